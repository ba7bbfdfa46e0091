"""apiextensions.k8s.io/v1: CustomResourceDefinitions, and the strategy their custom resources use.

``customresourcedefinition`` is the CRD kind itself; ``customresource.CustomResourceStrategy`` is
built by the apiserver's CRD machinery for each served version of an established CRD.
"""
