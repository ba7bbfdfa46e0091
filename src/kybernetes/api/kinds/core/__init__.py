"""The core ("" group, v1) kinds, one module per kind: pods, services, namespaces, nodes, …"""
