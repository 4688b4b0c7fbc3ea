"""Single sign-on with the park's OpenID Connect provider: identities (issuer, subject) linked
to users, the matching rules of a sign-in, and the sign-in pages."""
