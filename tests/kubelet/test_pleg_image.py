"""The image a container status reports: the pod spec's name, not whichever tag containerd picks."""

from __future__ import annotations

from kybernetes.kubelet import podstate
from kybernetes.kubelet.pleg import container_info
from kybernetes.runtime.proto import cri_pb2 as api


def _container(annotations: dict[str, str]) -> api.Container:
    c = api.Container(id="c1", pod_sandbox_id="s1", state=api.CONTAINER_RUNNING, image_ref="sha256:abc",
                      image=api.ImageSpec(image="sha256:abc"), annotations=annotations)
    c.metadata.name = "nginx"
    return c


def _status() -> api.ContainerStatus:
    # containerd names the first tag of the image: another tag of the same image here
    return api.ContainerStatus(id="c1", state=api.CONTAINER_RUNNING, image=api.ImageSpec(image="docker.io/library/nginx:1.25"),
                               image_ref="docker.io/library/nginx@sha256:def")


def test_the_spec_image_recorded_at_creation_wins() -> None:
    c = _container({podstate.CONTAINER_IMAGE_ANNOTATION: "docker.io/library/nginx:1.7.9"})
    assert container_info(c, None).image == "docker.io/library/nginx:1.7.9"
    info = container_info(c, _status())
    assert info.image == "docker.io/library/nginx:1.7.9"
    assert info.image_ref == "docker.io/library/nginx@sha256:def"


def test_containers_without_the_annotation_report_the_runtime_name() -> None:
    assert container_info(_container({}), _status()).image == "docker.io/library/nginx:1.25"
    assert container_info(_container({}), None).image == "sha256:abc"
