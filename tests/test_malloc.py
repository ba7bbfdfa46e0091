"""The allocator thresholds the CLI sets: a TLS read no longer maps and unmaps memory."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

# 2,000 TLS records read the way uvloop's transport reads them (SSLObject.read(256 KiB), which
# allocates the whole buffer and shrinks it to the record), counting minor page faults around them.
PROBE = """
import resource, ssl, sys
from pathlib import Path
from kybernetes.apiserver.certs import ensure_pki
from kybernetes.cli import malloc
if sys.argv[1] == "tuned":
    assert malloc.tune_malloc()
pki = ensure_pki(Path(sys.argv[2]), ["127.0.0.1"])
bios = [ssl.MemoryBIO() for _ in range(4)]
server = pki.server_ssl_context().wrap_bio(bios[0], bios[1], server_side=True)
client = pki.client_ssl_context().wrap_bio(bios[2], bios[3], server_hostname="127.0.0.1")
def pump():
    bios[0].write(bios[3].read())
    bios[2].write(bios[1].read())
for _ in range(5):
    for end in (client, server):
        try:
            end.do_handshake()
        except ssl.SSLWantReadError:
            pass
    pump()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
before = faults()
for _ in range(2000):
    client.write(b"x" * 1500)
    pump()
    server.read(256 * 1024)
print(faults() - before)
"""


def _faults(mode: str, tmp: Path) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(tmp / mode)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_tls_sized_reads_stay_on_the_heap(tmp_path: Path) -> None:
    default, tuned = _faults("default", tmp_path), _faults("tuned", tmp_path)
    assert default >= 2000  # every read faulted in pages of a fresh mapping
    assert tuned < 100
