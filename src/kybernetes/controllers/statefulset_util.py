"""Pure StatefulSet rules: ordinals and identities, claims, revisions on pods, retention ownerRefs, status.

A member pod is named ``<set>-<ordinal>`` and carries ``statefulset.kubernetes.io/pod-name``,
``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` (the revision *name*); its
hostname is its name and its subdomain the set's ``serviceName``. Each volume claim template
becomes a PVC ``<claim>-<set>-<ordinal>`` mounted under the template's name. Which ownerRefs a
claim should carry follows ``persistentVolumeClaimRetentionPolicy`` (``isClaimOwnerUpToDate`` /
``updateClaimOwnerRefForSetAndPod``). No I/O here; ``statefulset.py`` and ``statefulpodcontrol.py``
call these.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kybernetes.controllers import podcontrol, podstate, refmanager
from kybernetes.controllers.loop import Obj

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
API_VERSION, KIND = "apps/v1", "StatefulSet"
RETAIN, DELETE = "Retain", "Delete"
_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")


def md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def replicas(st: Obj) -> int:
    value = spec(st).get("replicas")
    return 1 if value is None else int(value)


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    m = _POD_NAME.match(md(pod).get("name", ""))
    if m is None:
        return "", -1
    ordinal = int(m.group(2))
    return (m.group(1), ordinal) if ordinal < 2**31 else (m.group(1), -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def start_ordinal(st: Obj) -> int:
    return int((spec(st).get("ordinals") or {}).get("start") or 0)


def end_ordinal(st: Obj) -> int:
    return start_ordinal(st) + replicas(st) - 1


def in_ordinal_range(pod: Obj, st: Obj) -> bool:
    return start_ordinal(st) <= ordinal_of(pod) <= end_ordinal(st)


def pod_name(st: Obj, ordinal: int) -> str:
    return f"{md(st).get('name', '')}-{ordinal}"


def claim_name(st: Obj, template: Obj, ordinal: int) -> str:
    return f"{md(template).get('name', '')}-{md(st).get('name', '')}-{ordinal}"


def is_member(st: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod)[0] == md(st).get("name")


def revision_of(pod: Obj) -> str:
    return str((md(pod).get("labels") or {}).get(REVISION_LABEL) or "")


def is_created(pod: Obj) -> bool:
    """The API server has it (a phase is set); placeholders built for missing ordinals have none."""
    return bool(podstate.phase(pod))


def is_terminating(pod: Obj) -> bool:
    return bool(md(pod).get("deletionTimestamp"))


def is_running_and_ready(pod: Obj) -> bool:
    return podstate.phase(pod) == "Running" and podstate.is_pod_ready(pod)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def identity_matches(st: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    return (ordinal >= 0 and parent == md(st).get("name") and md(pod).get("name") == pod_name(st, ordinal)
            and md(pod).get("namespace") == md(st).get("namespace")
            and (md(pod).get("labels") or {}).get(POD_NAME_LABEL) == md(pod).get("name")
            and (md(pod).get("labels") or {}).get(POD_INDEX_LABEL) == str(ordinal))


def update_identity(st: Obj, pod: Obj) -> None:
    ordinal = ordinal_of(pod)
    pmd = pod.setdefault("metadata", {})
    pmd["name"] = pod_name(st, ordinal)
    pmd["namespace"] = md(st).get("namespace", "")
    labels = pmd.setdefault("labels", {})
    labels[POD_NAME_LABEL] = pmd["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def claims_for(st: Obj, pod: Obj) -> list[Obj]:
    """The PVCs ``pod`` needs, one per volume claim template (``getPersistentVolumeClaims``)."""
    ordinal = ordinal_of(pod)
    match = ((spec(st).get("selector") or {}).get("matchLabels")) or {}
    out = []
    for template in spec(st).get("volumeClaimTemplates") or []:
        claim = copy.deepcopy(template)
        claim.pop("status", None)
        cmd = claim.setdefault("metadata", {})
        cmd.pop("creationTimestamp", None)
        cmd["name"] = claim_name(st, template, ordinal)
        cmd["namespace"] = md(st).get("namespace", "")
        cmd["labels"] = {**(cmd.get("labels") or {}), **match}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        out.append(claim)
    return out


def storage_matches(st: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in spec(pod).get("volumes") or []}
    for template in spec(st).get("volumeClaimTemplates") or []:
        volume = volumes.get(md(template).get("name"))
        source = (volume or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(st, template, ordinal):
            return False
    return True


def update_storage(st: Obj, pod: Obj) -> None:
    """Mount each claim under its template's name, replacing same-named volumes (``updateStorage``)."""
    ordinal = ordinal_of(pod)
    templates = spec(st).get("volumeClaimTemplates") or []
    names = {md(t).get("name") for t in templates}
    volumes = [{"name": md(t).get("name"), "persistentVolumeClaim": {"claimName": claim_name(st, t, ordinal)}}
               for t in templates]
    volumes += [v for v in spec(pod).get("volumes") or [] if v.get("name") not in names]
    if volumes:
        pod.setdefault("spec", {})["volumes"] = volumes


def new_pod(st: Obj, template: dict[str, Any], ordinal: int, revision: str) -> Obj:
    """The pod for ``ordinal`` from ``template`` at ``revision`` (``newStatefulSetPod`` + revision label)."""
    ref = refmanager.new_controller_ref(st, API_VERSION, KIND)
    pod = podcontrol.pod_from_template(template, st, ref)
    pod["metadata"]["name"] = pod_name(st, ordinal)
    update_identity(st, pod)
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    if spec(st).get("serviceName"):
        pod["spec"]["subdomain"] = spec(st)["serviceName"]
    update_storage(st, pod)
    pod["metadata"]["labels"][REVISION_LABEL] = revision
    return pod


def versioned_pod(st: Obj, current: dict[str, Any], update: dict[str, Any], current_rev: str, update_rev: str,
                  ordinal: int) -> Obj:
    """Ordinals below the partition are (re)created at the current revision, the rest at the update
    revision (``newVersionedStatefulSetPod``)."""
    strategy = spec(st).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        keep = ordinal < start_ordinal(st) + int(rolling.get("partition") or 0)
    else:
        current_replicas = int((st.get("status") or {}).get("currentReplicas") or 0)
        keep = strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
            ordinal < start_ordinal(st) + current_replicas
    if keep:
        return new_pod(st, current, ordinal, current_rev)
    return new_pod(st, update, ordinal, update_rev)


# --- PVC retention policy -------------------------------------------------------------------------
def retention_policy(st: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain when unset."""
    policy = spec(st).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _matches_ref(ref: dict[str, Any], obj: Obj, api_version: str, kind: str) -> bool:
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and ref.get("name") == md(obj).get("name")


def _has_owner(claim: Obj, owner: Obj) -> bool:
    uid = md(owner).get("uid")
    return bool(uid) and any(r.get("uid") == uid for r in md(claim).get("ownerReferences") or [])


def has_stale_owner(claim: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    """A ref with the object's name and kind but another uid: left by an earlier incarnation."""
    for ref in md(claim).get("ownerReferences") or []:
        if _matches_ref(ref, obj, api_version, kind):
            return bool(ref.get("uid") != md(obj).get("uid"))
    return False


def _unexpected_controller(claim: Obj, st: Obj, pod: Obj) -> bool:
    if retention_policy(st) == (RETAIN, RETAIN):
        return False
    for ref in md(claim).get("ownerReferences") or []:
        if _matches_ref(ref, st, API_VERSION, KIND):
            if ref.get("uid") != md(st).get("uid"):
                return True
            continue
        if _matches_ref(ref, pod, "v1", "Pod"):
            if ref.get("uid") != md(pod).get("uid"):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def claim_owner_up_to_date(claim: Obj, st: Obj, pod: Obj) -> bool:
    """Whether the claim's ownerRefs already say what the retention policy wants."""
    if has_stale_owner(claim, st, API_VERSION, KIND) or has_stale_owner(claim, pod, "v1", "Pod"):
        return True  # managed by an earlier incarnation: leave it alone
    if _unexpected_controller(claim, st, pod):
        return not (_has_owner(claim, st) or _has_owner(claim, pod))
    uids = {md(st).get("uid"), md(pod).get("uid")}
    if any(r.get("uid") in uids and not r.get("controller") for r in md(claim).get("ownerReferences") or []):
        return False
    when_deleted, when_scaled = retention_policy(st)
    scaled_down = not in_ordinal_range(pod, st)
    want_set = when_deleted == DELETE and not (when_scaled == DELETE and scaled_down)
    want_pod = when_scaled == DELETE and scaled_down
    return _has_owner(claim, st) == want_set and _has_owner(claim, pod) == want_pod


def update_claim_owner_refs(claim: Obj, st: Obj, pod: Obj) -> None:
    """Rewrite the claim's refs to the set and pod to match the retention policy (in place)."""
    cmd = claim.setdefault("metadata", {})
    unexpected = _unexpected_controller(claim, st, pod)
    refs = [r for r in cmd.get("ownerReferences") or []
            if not (_matches_ref(r, st, API_VERSION, KIND) or _matches_ref(r, pod, "v1", "Pod"))]
    if not unexpected:
        when_deleted, when_scaled = retention_policy(st)
        scaled_down = not in_ordinal_range(pod, st)
        if when_scaled == DELETE and scaled_down:
            refs.append(refmanager.new_controller_ref(pod, "v1", "Pod"))
        elif when_deleted == DELETE:
            refs.append(refmanager.new_controller_ref(st, API_VERSION, KIND))
    if refs:
        cmd["ownerReferences"] = refs
    else:
        cmd.pop("ownerReferences", None)


# --- status ---------------------------------------------------------------------------------------
def replica_counts(pods: list[Obj], min_ready: int, now: float, current_rev: str, update_rev: str) -> dict[str, int]:
    """replicas (created), ready, available (ready for minReadySeconds), current and updated."""
    out = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}
    for pod in pods:
        if is_created(pod):
            out["replicas"] += 1
        if is_running_and_ready(pod):
            out["readyReplicas"] += 1
            if podstate.is_pod_available(pod, min_ready, now):
                out["availableReplicas"] += 1
        if is_created(pod) and not is_terminating(pod):
            rev = revision_of(pod)
            out["currentReplicas"] += rev == current_rev
            out["updatedReplicas"] += rev == update_rev
    return out


def status_body(counts: dict[str, int], generation: int, current_rev: str, update_rev: str,
                collision_count: int, old: dict[str, Any]) -> dict[str, Any]:
    """The status as the API serializes it (zero optional counts omitted); keeps conditions."""
    status: dict[str, Any] = {"observedGeneration": generation, "replicas": counts["replicas"]}
    for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
        if counts[key]:
            status[key] = counts[key]
    status.update(currentRevision=current_rev, updateRevision=update_rev, collisionCount=collision_count,
                  availableReplicas=counts["availableReplicas"])
    if old.get("conditions"):
        status["conditions"] = old["conditions"]
    return status


def complete_rolling_update(st: Obj, status: dict[str, Any]) -> None:
    """Once every replica is updated and ready the update revision becomes current."""
    strategy = (spec(st).get("updateStrategy") or {}).get("type", "RollingUpdate")
    n = replicas(st)
    if strategy == "RollingUpdate" and status.get("updatedReplicas", 0) == n and \
            status.get("readyReplicas", 0) == n and status.get("replicas", 0) == n:
        status["currentReplicas"] = status.get("updatedReplicas", 0)
        status["currentRevision"] = status["updateRevision"]
        if not status["currentReplicas"]:
            status.pop("currentReplicas")
