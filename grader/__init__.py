"""grader: grades the Kafka + Spark Streaming seminar's lab assignments on a real sandbox."""

__version__ = "0.1.0"
