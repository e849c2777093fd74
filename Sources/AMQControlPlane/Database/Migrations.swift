import GRDB

/// Versioned schema migrations. Never edit a registered migration: add a new one.
enum Migrations {
    /// `PRAGMA application_id` of an amq database ("AMQ1"), so a stray SQLite file is refused.
    static let applicationID: Int32 = 0x414D_5131

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-topology", migrate: createTopology)
        migrator.registerMigration("v2-stream-index", migrate: createStreamIndex)
        migrator.registerMigration("v3-kafka", migrate: createKafkaState)
        migrator.registerMigration("v4-traffic", migrate: createTraffic)
        migrator.registerMigration("v5-applied-commits", migrate: createAppliedCommits)
        migrator.registerMigration("v6-upload-intents", migrate: createUploadIntents)
        migrator.registerMigration("v7-security", migrate: createSecurity)
        return migrator
    }

    /// Kafka users (salted SCRAM credentials, never passwords), ACLs, and each agent's Kafka
    /// listeners by name (issue 12; docs/security.md).
    private static func createSecurity(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE kafka_user (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    credentials TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (cluster_id, name)
                ) WITHOUT ROWID;
                CREATE TABLE acl (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    resource_type INTEGER NOT NULL,
                    resource_name TEXT NOT NULL,
                    pattern_type INTEGER NOT NULL,
                    principal TEXT NOT NULL,
                    host TEXT NOT NULL,
                    operation INTEGER NOT NULL,
                    permission INTEGER NOT NULL,
                    PRIMARY KEY (cluster_id, resource_type, resource_name, pattern_type, principal, host, operation, permission)
                ) WITHOUT ROWID;
                ALTER TABLE node ADD COLUMN listeners TEXT;
                """
        )
    }

    /// A cluster uid that every object key carries, and the intents recorded before each upload
    /// (issue 11, findings 2 and 3; docs/storage-format.md).
    private static func createUploadIntents(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE cluster ADD COLUMN uid TEXT")
        for id in try Int64.fetchAll(db, sql: "SELECT id FROM cluster") {
            try db.execute(sql: "UPDATE cluster SET uid = ? WHERE id = ?", arguments: [ClusterInfo.newUID(), id])
        }
        try db.execute(
            sql: """
                CREATE TABLE upload_intent (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    object_key TEXT NOT NULL,
                    node_id INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (cluster_id, object_key)
                ) WITHOUT ROWID;
                CREATE INDEX upload_intent_age ON upload_intent(cluster_id, created_at);
                """
        )
    }

    /// The answer given to each commit (by its id), so a retried commit gets the same one
    /// (issue 11, finding 6); kept a day.
    private static func createAppliedCommits(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE applied_commit (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    commit_id TEXT NOT NULL,
                    outcomes TEXT NOT NULL,
                    applied_at REAL NOT NULL,
                    PRIMARY KEY (cluster_id, commit_id)
                ) WITHOUT ROWID;
                CREATE INDEX applied_commit_age ON applied_commit(cluster_id, applied_at);
                """
        )
    }

    /// Traffic history (docs/traffic.md): bytes by bucket, category, topic and zones, S3 requests
    /// by bucket and operation, and per counting process what has been applied. Buckets are a
    /// minute wide, rolled up into hours after `traffic.minute-bucket-hours`.
    private static func createTraffic(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE traffic_flow (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    bucket INTEGER NOT NULL,
                    width INTEGER NOT NULL,
                    category TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    source_zone TEXT NOT NULL,
                    destination_zone TEXT NOT NULL,
                    inbound INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    wire_bytes INTEGER NOT NULL,
                    PRIMARY KEY (cluster_id, bucket, width, category, topic, source_zone, destination_zone, inbound)
                ) WITHOUT ROWID;
                CREATE TABLE traffic_request (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    bucket INTEGER NOT NULL,
                    width INTEGER NOT NULL,
                    operation TEXT NOT NULL,
                    requests INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    PRIMARY KEY (cluster_id, bucket, width, operation)
                ) WITHOUT ROWID;
                -- One row per counting process (node 0 is the controller): the incarnation whose
                -- batches are applied, the last sequence applied, and how far its counts reach.
                CREATE TABLE traffic_source (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    node_id INTEGER NOT NULL,
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    through REAL NOT NULL,
                    PRIMARY KEY (cluster_id, node_id)
                ) WITHOUT ROWID;
                """
        )
    }

    /// What the Kafka broker keeps beyond the topology: the producer id sequence and committed
    /// consumer-group offsets. Neither is topology: changing them bumps no version and writes no
    /// audit row, since consumers commit several times a second.
    private static func createKafkaState(_ db: Database) throws {
        try db.execute(
            sql: """
                -- The next producer id InitProducerId hands out. Kafka's ids are cluster-wide and never reused;
                -- starting at 1000 keeps them apart from small numbers people use in tests by hand.
                ALTER TABLE cluster ADD COLUMN next_producer_id INTEGER NOT NULL DEFAULT 1000;
                CREATE TABLE group_offset (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    group_id TEXT NOT NULL,
                    topic_id TEXT NOT NULL REFERENCES topic(id) ON DELETE CASCADE,
                    partition_index INTEGER NOT NULL,
                    committed_offset INTEGER NOT NULL,
                    leader_epoch INTEGER NOT NULL,
                    metadata TEXT,
                    committed_at REAL NOT NULL,
                    PRIMARY KEY (cluster_id, group_id, topic_id, partition_index)
                ) WITHOUT ROWID;
                -- Deleting a topic cascades here; without an index on topic_id that is a full scan.
                CREATE INDEX group_offset_topic ON group_offset(topic_id);
                """
        )
    }

    /// The partition index: which object and byte range holds each committed offset range.
    /// Commits are data-plane traffic (several a second per agent), so they neither bump the
    /// topology version nor write audit rows.
    private static func createStreamIndex(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE partition ADD COLUMN next_offset INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE partition ADD COLUMN log_start_offset INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE stream_object (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    object_key TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    node_id INTEGER NOT NULL,
                    committed_at REAL NOT NULL,
                    -- When set, no segment refers to the object and it may be deleted after this time.
                    delete_after REAL,
                    PRIMARY KEY (cluster_id, object_key)
                );
                CREATE TABLE segment (
                    topic_id TEXT NOT NULL,
                    partition_index INTEGER NOT NULL,
                    base_offset INTEGER NOT NULL,
                    end_offset INTEGER NOT NULL,
                    cluster_id INTEGER NOT NULL,
                    object_key TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    length INTEGER NOT NULL,
                    max_timestamp INTEGER NOT NULL,
                    PRIMARY KEY (topic_id, partition_index, base_offset),
                    FOREIGN KEY (topic_id, partition_index) REFERENCES partition(topic_id, partition_index) ON DELETE CASCADE,
                    FOREIGN KEY (cluster_id, object_key) REFERENCES stream_object(cluster_id, object_key)
                ) WITHOUT ROWID;
                CREATE INDEX segment_object ON segment(cluster_id, object_key);
                """
        )
    }

    private static func createTopology(_ db: Database) throws {
        try db.execute(sql: "PRAGMA application_id = \(applicationID)")
        try db.execute(
            sql: """
                CREATE TABLE cluster (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    object_store_url TEXT NOT NULL,
                    data_dir TEXT NOT NULL,
                    local INTEGER NOT NULL,
                    settings TEXT NOT NULL,
                    topology_version INTEGER NOT NULL,
                    controller_url TEXT,
                    controller_pid INTEGER,
                    created_at REAL NOT NULL
                );
                CREATE TABLE zone (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    cidrs TEXT NOT NULL DEFAULT '[]',
                    PRIMARY KEY (cluster_id, name)
                );
                CREATE TABLE node (
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    node_id INTEGER NOT NULL,
                    name TEXT,
                    zone TEXT NOT NULL,
                    host TEXT NOT NULL,
                    kafka_port INTEGER,
                    rpc_port INTEGER,
                    admin_port INTEGER,
                    admin_state TEXT NOT NULL,
                    liveness TEXT NOT NULL,
                    pid INTEGER,
                    last_heartbeat REAL,
                    acked_version INTEGER,
                    registered_at REAL,
                    PRIMARY KEY (cluster_id, node_id),
                    FOREIGN KEY (cluster_id, zone) REFERENCES zone(cluster_id, name)
                );
                CREATE UNIQUE INDEX node_name ON node(cluster_id, name) WHERE name IS NOT NULL;
                CREATE TABLE topic (
                    id TEXT PRIMARY KEY,
                    cluster_id INTEGER NOT NULL REFERENCES cluster(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    partitions INTEGER NOT NULL,
                    route_enabled INTEGER NOT NULL,
                    retention_ms INTEGER NOT NULL,
                    retention_bytes INTEGER NOT NULL,
                    linger_ms INTEGER NOT NULL,
                    configs TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    UNIQUE (cluster_id, name)
                );
                CREATE TABLE partition (
                    topic_id TEXT NOT NULL REFERENCES topic(id) ON DELETE CASCADE,
                    cluster_id INTEGER NOT NULL,
                    partition_index INTEGER NOT NULL,
                    leader_node_id INTEGER NOT NULL,
                    leader_epoch INTEGER NOT NULL,
                    PRIMARY KEY (topic_id, partition_index),
                    FOREIGN KEY (cluster_id, leader_node_id) REFERENCES node(cluster_id, node_id)
                );
                CREATE TABLE partition_replica (
                    topic_id TEXT NOT NULL,
                    partition_index INTEGER NOT NULL,
                    cluster_id INTEGER NOT NULL,
                    zone TEXT NOT NULL,
                    node_id INTEGER NOT NULL,
                    PRIMARY KEY (topic_id, partition_index, zone),
                    FOREIGN KEY (topic_id, partition_index)
                        REFERENCES partition(topic_id, partition_index) ON DELETE CASCADE,
                    FOREIGN KEY (cluster_id, node_id) REFERENCES node(cluster_id, node_id)
                );
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    cluster_id INTEGER,
                    cluster_name TEXT NOT NULL,
                    at REAL NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    before TEXT,
                    after TEXT,
                    topology_version INTEGER NOT NULL
                );
                CREATE INDEX audit_log_cluster ON audit_log(cluster_name, id);
                """
        )
    }
}
