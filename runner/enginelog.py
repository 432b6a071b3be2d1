"""Engine logs: kept for maintainers, never published.

Everything an engine wrote is the engine's own text: untrusted, and possibly carrying the
private prompts in some encoding. So no public message, comment, check run, result or artifact
carries any of it. A run keeps each engine's log (capped, `runner.server.LOG_CAP_BYTES`) and
then either

- seals the logs to the maintainers' public key named in challenge.yaml (`logs:
  maintainers_key`), into `OUT/engine-logs.sealed.json`, which may travel with the public
  artifact: only the holder of the private key can open it (`arena logs open`); or
- without a key, leaves them on the runner host (`--engine-logs DIR`), outside the folder
  that is uploaded.

Sealing: X25519 with a fresh ephemeral key per file, HKDF-SHA256 over both public keys, and
ChaCha20-Poly1305 (the `cryptography` package). `arena logs keygen` makes a key pair.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Mapping

FORMAT = "arena.sealed-logs/1"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def keygen() -> tuple[str, str]:
    """A new key pair as (public, private), both base64: the public one goes in
    challenge.yaml, the private one stays with the maintainers (never in the repository)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    private = key.private_bytes(raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return _b64(public), _b64(private)


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + recipient_pub,
                info=FORMAT.encode()).derive(shared)


def seal(data: bytes, public_key: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    recipient = _unb64(public_key)
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    key = _derive(eph.exchange(X25519PublicKey.from_public_bytes(recipient)), eph_pub, recipient)
    nonce = os.urandom(12)
    return {"ephemeral": _b64(eph_pub), "nonce": _b64(nonce),
            "ciphertext": _b64(ChaCha20Poly1305(key).encrypt(nonce, data, None))}


def unseal(box: Mapping[str, str], private_key: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    key = X25519PrivateKey.from_private_bytes(_unb64(private_key))
    me = key.public_key().public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
    eph = _unb64(box["ephemeral"])
    sym = _derive(key.exchange(X25519PublicKey.from_public_bytes(eph)), eph, me)
    return ChaCha20Poly1305(sym).decrypt(_unb64(box["nonce"]), _unb64(box["ciphertext"]), None)


def seal_logs(logs: Mapping[str, Path], public_key: str, dest: Path, run_id: str) -> Path:
    """Seal every engine log of a run into one file (`dest`)."""
    from arena.files import write_bytes_atomic

    doc = {"format": FORMAT, "run_id": run_id,
           "logs": {role: seal(Path(p).read_bytes(), public_key)
                    for role, p in sorted(logs.items()) if Path(p).is_file()}}
    write_bytes_atomic(dest, (json.dumps(doc, indent=1) + "\n").encode())
    return dest


def open_logs(path: Path, private_key: str) -> dict[str, bytes]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a sealed engine-log file ({FORMAT})")
    return {role: unseal(box, private_key) for role, box in doc["logs"].items()}
