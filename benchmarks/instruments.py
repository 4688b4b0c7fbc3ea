"""A bench park's site, lab and lab instruments, shared by the benchmarks that book them."""

from __future__ import annotations


def bench_instruments(count: int) -> list:
    """Create a park, a lab in it and ``count`` instruments (capacity 1, 30-minute slots);
    returns the instruments in creation order."""
    from resources.models import Location, Resource, ResourceKind

    site = Location.objects.create(name="Bench park", level="park", park="hk")
    room = Location.objects.create(name="Bench lab", level="room", parent=site, park="hk")
    Resource.objects.bulk_create(
        Resource(
            name=f"Instrument {i:03d}",
            slug=f"bench-instr-{i:03d}",
            kind=ResourceKind.LAB_INSTRUMENT,
            location=room,
            capacity=1,
            slot_minutes=30,
        )
        for i in range(count)
    )
    return list(Resource.objects.filter(slug__startswith="bench-instr-").order_by("pk"))
