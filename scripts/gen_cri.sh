#!/usr/bin/env bash
# Regenerates the Python CRI stubs (src/kybernetes/runtime/proto/cri_pb2*.py, .pyi) from cri.proto.
# The generated files are committed, so only run this after editing cri.proto. It needs grpcio-tools;
# the grpcio lower bound in pyproject.toml must equal the grpcio-tools version used here (the generated
# *_grpc.py refuses older grpcio), and the protobuf lower bound must admit the gencode's runtime check.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_TOOLS_VERSION=1.85.1
if ! python3 -c "import grpc_tools, importlib.metadata as m, sys; sys.exit(m.version('grpcio-tools') != '$GRPC_TOOLS_VERSION')" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check "grpcio-tools==$GRPC_TOOLS_VERSION"
fi
python3 -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src --grpc_python_out=src \
  src/kybernetes/runtime/proto/cri.proto
# Generated code is exempt from the project's strict typing (ruff excludes it in pyproject.toml).
for f in src/kybernetes/runtime/proto/cri_pb2_grpc.py src/kybernetes/runtime/proto/cri_pb2.pyi; do
  sed -i '1i # mypy: ignore-errors' "$f"
done
echo "generated: $(ls src/kybernetes/runtime/proto/cri_pb2*)"
