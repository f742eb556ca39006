"""The second step of staff sign-in: a code from an authenticator app (or a recovery code),
set-up with a QR code, and remembered browsers. The factors themselves (secrets, codes,
reset) are in :mod:`survey_app.two_factor`, shared with the admin pages and the CLI."""
