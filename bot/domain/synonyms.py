"""The domain's synonym table: the many ways people name one thing, in Chinese and English.

A phrase found in a text adds its concept token (`~crashloop`) to the text's tokens, on both
sides: entries when the index is built, questions when they are asked. So "pod 一直重启" and
"CrashLoopBackOff" meet on `~crashloop` whatever words either side used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

CONCEPT_PREFIX = "~"

SYNONYMS: dict[str, tuple[str, ...]] = {
    "crashloop": (
        "crashloopbackoff", "crashloop", "crash loop", "一直重启", "反复重启", "不断重启", "频繁重启",
        "循环重启", "重启次数", "老是重启", "总是重启", "自动重启", "重启循环", "back-off restarting failed container",
        "restarting", "keeps restarting", "restart loop", "崩溃", "crashing", "挂掉", "启动后退出", "起来又挂",
    ),
    "restart": ("重启", "restart", "rollout restart", "reboot"),
    "imagepull": (
        "imagepullbackoff", "errimagepull", "拉镜像", "拉取镜像", "镜像拉取", "镜像拉不下来", "拉不到镜像",
        "拉不下来", "pull image", "image pull", "pulling image", "failed to pull image", "镜像下载",
    ),
    "image": ("镜像", "image", "images", "docker image"),
    "release": ("发布单", "部署单", "release order", "release", "发布", "上线", "rollout", "分批发布", "灰度发布", "canary"),
    "batch": ("分批", "批次", "第一批", "每批", "batch", "batches"),
    "scalezero": (
        "缩容到0", "缩到0", "缩容为0", "缩成0", "副本数改成0", "副本设为0", "实例数改为0", "scale to zero",
        "scale to 0", "scale down to 0", "scale 0", "replicas 0", "replicas=0", "下线环境", "停掉环境",
    ),
    "scale": ("扩容", "缩容", "扩缩容", "伸缩", "scale", "scaling", "副本数", "实例数", "replicas"),
    "autoscale": ("自动伸缩", "弹性伸缩", "autoscaler", "autoscale", "autoscaling", "cluster-autoscaler", "kube-autoscale", "自动扩容"),
    "drain": ("排水", "排空", "drain", "腾空节点", "驱逐节点上"),
    "cordon": ("不可调度", "禁止调度", "停止调度", "cordon", "unschedulable", "schedulingdisabled", "uncordon", "可调度"),
    "notready": ("notready", "not ready", "节点不可用", "节点异常", "node down", "节点挂了", "节点离线", "pleg"),
    "oom": (
        "oom", "oomkilled", "out of memory", "内存溢出", "内存不够", "内存不足", "被kill", "被杀", "killed process",
        "exit code 137", "137", "oom killer", "oom-kill",
    ),
    "jvm": ("jvm", "java", "堆内存", "heap", "xmx", "堆大小", "jvm堆"),
    "memory": ("内存", "memory", "mem"),
    "cpu": ("cpu", "vcpu", "核数", "cpu核"),
    "schedule": (
        "pending", "调度失败", "无法调度", "调度不上", "调度不了", "failedscheduling", "insufficient",
        "nodes are available", "资源不足", "没有可用节点", "scheduling",
    ),
    "probe": (
        "健康检查", "health check", "healthcheck", "探针", "探测", "probe", "probes", "liveness", "readiness",
        "存活检查", "就绪检查", "存活探针", "就绪探针", "livenessprobe", "readinessprobe",
    ),
    "configmap": ("configmap", "configmaps", "配置项", "配置文件没挂上", "createcontainerconfigerror"),
    "secret": ("secret", "secrets", "密钥", "凭证"),
    "rollback": ("回滚", "rollback", "roll back", "rollout undo", "undo", "退回上个版本", "回退"),
    "resume": ("恢复", "继续发布", "resume", "promote", "继续下一批", "unpause"),
    "pause": ("暂停", "pause", "paused", "停住", "卡在第一批"),
    "close": ("关闭发布单", "关掉发布单", "关闭", "close", "abort", "终止发布", "取消发布"),
    "logs": ("日志", "log", "logs", "看日志", "查日志", "stdout"),
    "evicted": ("驱逐", "evicted", "eviction", "被驱逐", "evict", "漂移", "换了机器", "换宿主机"),
    "disk": ("云盘", "磁盘", "硬盘", "disk", "cloud disk", "块存储"),
    "nas": ("nas", "文件存储", "nfs"),
    "mount": ("挂载", "mount", "mounting", "挂不上", "unmount", "卸载", "failedmount", "failedattachvolume", "attach"),
    "volume": ("存储卷", "volume", "pvc", "pv", "persistentvolumeclaim", "数据卷", "存储"),
    "slb": ("slb", "负载均衡", "load balancer", "loadbalancer", "lb", "clb"),
    "unreachable": ("不通", "访问不了", "访问不通", "连不上", "无法访问", "unreachable", "connection refused", "connection timed out", "打不开"),
    "forbidden": ("forbidden", "没权限", "没有权限", "无权限", "权限不足", "permission denied", "rbac", "unauthorized", "cannot get", "cannot list"),
    "quota": ("quota", "配额", "resourcequota", "resource quota", "exceeded quota", "limitrange", "limit range", "限额"),
    "limits": ("limits", "requests", "资源限制", "资源请求", "容器规格", "规格"),
    "node": ("节点", "node", "nodes", "ecs", "宿主机", "主机", "worker", "机器"),
    "pod": ("pod", "pods", "容器", "container", "containers", "实例", "instance"),
    "latest": ("latest", "最新镜像", "旧镜像", "老镜像", "镜像没更新", "镜像不更新", "old image", "imagepullpolicy", "同一个tag", "tag复用"),
    "tag": ("tag", "镜像版本", "版本号", "镜像tag"),
    "service": ("service", "svc", "服务", "clusterip", "虚拟ip", "vip"),
    "ingress": ("ingress", "七层", "域名访问", "nginx-ingress"),
    "endpoints": ("endpoints", "endpoint", "后端", "no endpoints", "没有后端"),
    "kubectl": ("kubectl", "命令行"),
    "timeout": ("超时", "timeout", "timed out", "卡住", "hang"),
    "terminating": ("terminating", "删不掉", "删除不了", "卡在terminating", "一直删除中", "stuck terminating"),
    "hook": ("poststart", "prestop", "hook", "钩子", "优雅上下线", "优雅下线", "优雅上线", "lifecycle"),
    "kubelet": ("kubelet",),
    "docker": ("docker", "dockerd", "docker daemon", "容器运行时", "containerd"),
    "package": ("代码包", "程序包", "安装包", "jar包", "war包", "package", "artifact"),
    "download": ("下载", "download", "downloading"),
    "http403": ("403", "forbidden 403", "access denied", "拒绝访问"),
    "bandwidth": ("带宽", "公网", "public ip", "eip", "弹性ip", "nat", "nat网关", "出网", "外网"),
    "label": ("label", "labels", "标签", "nodeselector", "node selector", "节点选择", "亲和", "affinity"),
    "taint": ("taint", "taints", "污点", "toleration", "容忍"),
    "agent": ("acsagent", "agent", "管控组件"),
    "console": ("控制台", "console", "web控制台"),
    "exec": ("exec", "远程登录", "登录容器", "进入容器", "webshell"),
    "maintenance": ("维护", "升级", "maintenance", "upgrade", "内核升级"),
    "imbalance": ("负载不均", "流量不均", "不均衡", "imbalance", "uneven", "unbalanced"),
    "env": ("环境", "environment", "env"),
    "create": ("创建", "新建", "create", "创建应用", "新建应用"),
    "config": ("配置", "config", "configuration", "设置"),
}


def _boundary_pattern(phrase: str) -> str:
    escaped = re.escape(phrase)
    if phrase.isascii():
        return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"
    return escaped


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], dict[str, str]]:
    phrase_to_concept: dict[str, str] = {}
    for concept, phrases in SYNONYMS.items():
        for phrase in phrases:
            phrase_to_concept.setdefault(phrase, concept)
    # Longest first, so "一直重启" wins over "重启" at the same position.
    ordered = sorted(phrase_to_concept, key=len, reverse=True)
    pattern = re.compile("|".join(_boundary_pattern(p) for p in ordered))
    return pattern, phrase_to_concept


def concepts(normalized_text: str) -> list[str]:
    """Concept tokens named in an already-normalized text, each once, in order of appearance."""
    pattern, phrase_to_concept = _matcher()
    found: list[str] = []
    for match in pattern.finditer(normalized_text):
        token = CONCEPT_PREFIX + phrase_to_concept[match.group()]
        if token not in found:
            found.append(token)
    return found


def expand(tokens: Iterable[str], normalized_text: str) -> list[str]:
    """Tokens plus the concepts the text names."""
    return [*tokens, *concepts(normalized_text)]
