// iotpipe's least-privilege MongoDB users, the same two that `iotpipe db setup` makes:
// the sink reads and writes the pipeline's database, Grafana only reads it. Nothing
// else (no admin database, no other database) is granted to either.
//
// Single node: mounted into /docker-entrypoint-initdb.d, run once by the mongo image when
// its data volume is empty (root credentials are used for that first start only).
// Replica set: loaded by replica-set.js on the primary. Idempotent: a user that exists
// gets its password and roles set again.
//
// Environment: IOTPIPE_SINK_DATABASE (default iotpipe), IOTPIPE_DB_SINK_PASSWORD,
// IOTPIPE_DB_GRAFANA_PASSWORD.
(function createIotpipeUsers() {
  const database = process.env.IOTPIPE_SINK_DATABASE || "iotpipe";
  const users = [
    { user: "iotpipe_sink", role: "readWrite", passwordEnv: "IOTPIPE_DB_SINK_PASSWORD" },
    { user: "iotpipe_grafana", role: "read", passwordEnv: "IOTPIPE_DB_GRAFANA_PASSWORD" },
  ];
  const target = db.getSiblingDB(database);
  for (const { user, role, passwordEnv } of users) {
    const pwd = process.env[passwordEnv];
    if (!pwd) {
      throw new Error(`${passwordEnv} is empty: cannot create the user ${user}`);
    }
    const roles = [{ role: role, db: database }];
    if (target.getUser(user)) {
      target.updateUser(user, { pwd: pwd, roles: roles });
      print(`iotpipe: updated ${user} (${role} on ${database})`);
    } else {
      target.createUser({ user: user, pwd: pwd, roles: roles });
      print(`iotpipe: created ${user} (${role} on ${database})`);
    }
  }
})();
