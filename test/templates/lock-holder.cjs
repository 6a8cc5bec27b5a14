// Child of lock-wait.test.ts: another process holding the SQLite write lock, as a second Mimic, a `mimic face`
// call or a maintenance script's BEGIN EXCLUSIVE would. Writes a row of its own inside the lock (kept: it
// commits), says "locked", holds the lock for argv[3] ms, then commits and says "released".
const Database = require("better-sqlite3");

const [path, holdMs, marker] = process.argv.slice(2);
const db = new Database(path, { timeout: 10_000 });
db.exec("BEGIN EXCLUSIVE");
db.prepare("INSERT INTO bans (platform, server_id, platform_user_id, reason) VALUES ('maintenance', 'lock', ?, 'held the lock')").run(marker);
process.stdout.write("locked\n");
setTimeout(() => {
  db.exec("COMMIT");
  db.close();
  process.stdout.write("released\n");
}, Number(holdMs));
