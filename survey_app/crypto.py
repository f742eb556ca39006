"""Authenticated encryption of what respondents have not yet released: held submissions and
drafts.

Keys never live in the database. Every key is derived with HKDF-SHA256 (RFC 5869) from the
server secret (``SECRET_KEY``) and a purpose string, plus, for a draft, a context only the
respondent's browser holds, so neither a database reader nor someone who can rebuild a
personal link can open it. Ciphertexts are AES-256-GCM (NIST SP 800-38D) from the
``cryptography`` package, with a fresh 96-bit random nonce each time, and their plaintext is
padded to one of a few fixed sizes first, so a row's length says nothing about the answers.
"""

from __future__ import annotations

import hmac
import secrets
import struct
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Plaintexts are padded to the smallest of these sizes that holds them (larger ones to a
#: multiple of the last), so ciphertext lengths fall into a handful of classes.
PAD_SIZES = (2_048, 16_384, 131_072)
_NONCE_BYTES = 12
_LENGTH = struct.Struct(">I")


class SealBroken(ValueError):
    """The ciphertext was not made with this key and context, or was altered."""


def secret_bytes(secret: str | bytes) -> bytes:
    """The server secret as bytes (``SECRET_KEY`` is usually text)."""
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def derive_key(secret: str | bytes, purpose: str, context: bytes = b"") -> bytes:
    """A 256-bit key for one purpose (and context) derived from the server secret with
    HKDF-SHA256; the purpose separates keys so one leaking opens nothing else."""
    info = purpose.encode("utf-8") + b"\x00" + context
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_bytes(secret)
    )


def keyed_tag(secret: str | bytes, purpose: str, value: bytes) -> bytes:
    """HMAC-SHA256 of ``value`` under a key derived for ``purpose``: a stable, unguessable
    tag (for example one per invitation token) that reveals nothing without the secret."""
    return hmac.new(derive_key(secret, purpose), value, sha256).digest()


def lookup_of(identifier: bytes) -> bytes:
    """SHA-256 of an identifier held only by its owner: the database key of its row, from
    which the identifier cannot be recovered."""
    return sha256(identifier).digest()


def new_secret() -> bytes:
    """256 random bits."""
    return secrets.token_bytes(32)


def _pad(plaintext: bytes) -> bytes:
    framed = _LENGTH.pack(len(plaintext)) + plaintext
    size = next((s for s in PAD_SIZES if len(framed) <= s), None)
    if size is None:
        last = PAD_SIZES[-1]
        size = -(-len(framed) // last) * last
    return framed + bytes(size - len(framed))


def _unpad(padded: bytes) -> bytes:
    (length,) = _LENGTH.unpack_from(padded)
    if length > len(padded) - _LENGTH.size:
        raise SealBroken("padded plaintext is shorter than its stated length")
    return padded[_LENGTH.size : _LENGTH.size + length]


def seal(key: bytes, plaintext: bytes, associated: bytes = b"") -> bytes:
    """Pad, then encrypt and authenticate ``plaintext`` with AES-256-GCM; ``associated``
    data (e.g. the row's key) is authenticated but not stored, binding the ciphertext to
    its row. Returns nonce ‖ ciphertext ‖ tag."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, _pad(plaintext), associated)


def unseal(key: bytes, sealed: bytes, associated: bytes = b"") -> bytes:
    """Inverse of :func:`seal`; :class:`SealBroken` if the key, the associated data or the
    bytes are wrong."""
    if len(sealed) < _NONCE_BYTES + 16:
        raise SealBroken("ciphertext too short")
    try:
        padded = AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)
    except InvalidTag as exc:
        raise SealBroken("ciphertext does not open with this key") from exc
    return _unpad(padded)
