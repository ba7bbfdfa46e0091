"""Generated CRI (``runtime.v1``) messages and gRPC stubs: ``cri_pb2``, ``cri_pb2_grpc``.

Generated from ``cri.proto`` by ``scripts/gen_cri.sh``; do not edit the ``cri_pb2*`` files by hand.
"""
