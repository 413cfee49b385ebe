# No shebang line: works when typed as 'bash create_topic.sh', not as ./create_topic.sh from a program.
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --partitions 6 --replication-factor 2 --topic "$TOPIC"
