"""The living demo park: the catalogue and tenants (``booking.rounds.demo``) plus a month of
activity — busy calendars, jobs with output, a published and a contended round, usage records
and statements — all made through the park's own services so nothing impossible is shown."""
