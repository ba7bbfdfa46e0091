"""storage.k8s.io/v1: StorageClasses, CSIDrivers, CSINodes and VolumeAttachments."""
