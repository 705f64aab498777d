// Scale-out deployment: initiate the replica set once, wait until this node (the first
// member, given the highest priority) is primary, then create iotpipe's users there.
// Run by the one-shot mongo-rs-init service of docker-compose.scale.yml, connected to
// the first member as root; safe to run again (an initiated set is left as it is).
//
// Environment: MONGO_REPLICA_SET (name), MONGO_REPLICA_MEMBERS (host:port,host:port,...),
// and what init-users.js reads.
(function initiateReplicaSet() {
  const name = process.env.MONGO_REPLICA_SET;
  const members = (process.env.MONGO_REPLICA_MEMBERS || "").split(",").filter(Boolean);
  if (!name || members.length === 0) {
    throw new Error("MONGO_REPLICA_SET and MONGO_REPLICA_MEMBERS must be set");
  }
  try {
    rs.status();
    print(`iotpipe: replica set ${name} already initiated`);
  } catch (error) {
    if (error.codeName !== "NotYetInitialized") {
      throw error;
    }
    rs.initiate({
      _id: name,
      members: members.map((host, i) => ({ _id: i, host: host, priority: i === 0 ? 2 : 1 })),
    });
    print(`iotpipe: initiated replica set ${name} with ${members.join(", ")}`);
  }
  for (let waited = 0; !db.hello().isWritablePrimary; waited++) {
    if (waited >= 120) {
      throw new Error(`no primary on ${members[0]} after 120 s: ${JSON.stringify(rs.status())}`);
    }
    sleep(1000);
  }
})();
load("/iotpipe-mongo/init-users.js");
