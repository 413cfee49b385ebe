"""Runtime provisioning and the real Kafka cluster: Java, pinned jars, KRaft brokers, CLI shims."""

from grader.runtime.cluster import KafkaCluster
from grader.runtime.jars import Runtime, ensure_runtime
from grader.runtime.java import JavaRuntime, find_java

__all__ = ["JavaRuntime", "KafkaCluster", "Runtime", "ensure_runtime", "find_java"]
