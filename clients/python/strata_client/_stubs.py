"""Protobuf and gRPC stubs for ``strata.v1``, generated from the repository's ``proto/`` at build
time with Debian's ``protoc`` and ``grpc_python_plugin`` (packages protobuf-compiler and
protobuf-compiler-grpc). Nothing generated is committed.

The stubs are written to ``strata_client/_generated/`` the first time the package is imported (or
with ``python3 -m strata_client._stubs``), and written again whenever a ``.proto`` file or the
compiler changes: a stamp file holds a SHA-256 over both. Generation goes to a temporary
directory that is renamed into place, so concurrent first imports do not see half a tree.

The generated modules import each other as ``strata.v1.*`` and ``google.rpc.*`` (that is how
protoc names them), so ``_generated/`` is put on ``sys.path``; ``google`` is a namespace package
shared with Debian's ``google.protobuf``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GENERATED_DIR = PACKAGE_DIR / "_generated"
STAMP = GENERATED_DIR / ".stamp"
_REPO_ROOT = PACKAGE_DIR.parents[2]
#: the API's .proto files (override with STRATA_PROTO_DIR)
PROTO_DIR = Path(os.environ.get("STRATA_PROTO_DIR", _REPO_ROOT / "proto" / "src" / "main" / "proto"))
#: google/rpc/{status,error_details}.proto (see third_party/googleapis/README.md)
GOOGLEAPIS_DIR = PACKAGE_DIR.parent / "third_party" / "googleapis"
_APT_HINT = (
    "install Debian's packages: apt-get install protobuf-compiler protobuf-compiler-grpc "
    "python3-grpcio python3-protobuf"
)


class StubGenerationError(RuntimeError):
    """The stubs are missing and cannot be generated (no protoc, no .proto files, a protoc error)."""


def _inputs() -> list[tuple[Path, Path]]:
    """(include root, .proto file) pairs, in a stable order."""
    if not PROTO_DIR.is_dir():
        raise StubGenerationError(
            f"no .proto files at {PROTO_DIR}: run from a Strata checkout, or set STRATA_PROTO_DIR"
        )
    files = [(PROTO_DIR, p) for p in sorted(PROTO_DIR.glob("strata/v1/*.proto"))]
    files += [(GOOGLEAPIS_DIR, p) for p in sorted(GOOGLEAPIS_DIR.glob("google/rpc/*.proto"))]
    return files


def _tools() -> tuple[str, str]:
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        raise StubGenerationError(f"protoc and grpc_python_plugin are needed to generate the stubs: {_APT_HINT}")
    return protoc, plugin


def _fingerprint(files: list[tuple[Path, Path]], protoc: str) -> str:
    h = hashlib.sha256()
    version = subprocess.run([protoc, "--version"], capture_output=True, text=True, check=False).stdout
    h.update(version.encode())
    for root, path in files:
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def generate(force: bool = False) -> Path:
    """Generates the stubs if they are missing or stale; returns their directory.

    Raises StubGenerationError when they cannot be generated.
    """
    files = _inputs()
    protoc, plugin = _tools()
    fingerprint = _fingerprint(files, protoc)
    if not force and STAMP.is_file() and STAMP.read_text().strip() == fingerprint:
        return GENERATED_DIR
    tmp = Path(tempfile.mkdtemp(prefix="_generated.", dir=PACKAGE_DIR))
    try:
        includes = [f"-I{PROTO_DIR}", f"-I{GOOGLEAPIS_DIR}"]
        if Path("/usr/include/google/protobuf").is_dir():
            includes.append("-I/usr/include")  # the well-known types, where Debian puts them
        cmd = [
            protoc,
            *includes,
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--plugin=protoc-gen-grpc_python={plugin}",
            *[str(p) for _, p in files],
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StubGenerationError(f"protoc failed ({result.returncode}): {result.stderr.strip()}")
        (tmp / ".stamp").write_text(fingerprint + "\n")
        old = None
        if GENERATED_DIR.exists():
            old = GENERATED_DIR.with_name(f"_generated.old.{os.getpid()}")
            os.replace(GENERATED_DIR, old)
        try:
            os.replace(tmp, GENERATED_DIR)
        except OSError:
            if not STAMP.is_file():  # another process did not win the race either
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GENERATED_DIR


def ensure_importable() -> None:
    """Generates the stubs if needed and puts them on sys.path."""
    path = str(generate())
    if path not in sys.path:
        sys.path.insert(0, path)


if __name__ == "__main__":
    print(generate(force="--force" in sys.argv[1:]))
