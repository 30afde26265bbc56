"""Clusters API handlers: the cluster id on the span, and every cluster spec that passes through remembered.

``clusters/get`` and ``clusters/list`` responses (and ``create``/``edit`` request specs) fill a bounded cache
(cluster id -> spec, see :class:`..cost.model.CostModel`) that prices commands and job tasks on existing all-purpose
clusters, and gives the observed worker count of running autoscaling clusters. No tags are written here: an
all-purpose cluster outlives the orchestration context of the call that creates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attributes import CLUSTER_ID, CLUSTER_SUMMARY
from .call import Call, Handler


def _cluster_id(call: Call) -> str | None:
    value = call.query_value("cluster_id") or call.body_value("cluster_id")
    return str(value) if value else None


class ClusterCall(Handler):
    __slots__ = ()

    def request(self, call: Call) -> None:
        cluster_id = _cluster_id(call)
        if cluster_id:
            call.span.set_attribute(CLUSTER_ID, cluster_id)


class GetCluster(ClusterCall):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        if isinstance(response, Mapping) and response.get("cluster_id"):
            call.tracker.cost.clusters.put(str(response["cluster_id"]), response)
            shape, _ = call.tracker.cost.cluster_rate(response, str(response["cluster_id"]))
            call.span.set_attribute(CLUSTER_SUMMARY, [shape.summary()])


class WriteCluster(ClusterCall):
    """``create``/``edit``: the request spec is what the cluster will be."""

    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        cluster_id = _cluster_id(call)
        if isinstance(response, Mapping) and response.get("cluster_id"):
            cluster_id = str(response["cluster_id"])
            call.span.set_attribute(CLUSTER_ID, cluster_id)
        if cluster_id and isinstance(call.body, Mapping):
            call.tracker.cost.clusters.put(cluster_id, call.body)


class ListClusters(Handler):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        clusters = response.get("clusters") if isinstance(response, Mapping) else None
        for cluster in clusters or ():
            if isinstance(cluster, Mapping) and cluster.get("cluster_id"):
                call.tracker.cost.clusters.put(str(cluster["cluster_id"]), cluster)


GET = GetCluster("clusters", "get")
LIST = ListClusters("clusters", "list")
CREATE = WriteCluster("clusters", "create")
EDIT = WriteCluster("clusters", "edit")
START = ClusterCall("clusters", "start")
RESTART = ClusterCall("clusters", "restart")
RESIZE = ClusterCall("clusters", "resize")
DELETE = ClusterCall("clusters", "delete")
PERMANENT_DELETE = ClusterCall("clusters", "permanent_delete")
