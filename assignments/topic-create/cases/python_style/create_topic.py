"""topic-create with kafka-python's admin client."""
import os

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

admin = KafkaAdminClient(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","))
try:
    admin.create_topics([NewTopic(os.environ["TOPIC"], num_partitions=6, replication_factor=2)])
except TopicAlreadyExistsError:
    print("topic already exists")
admin.close()
