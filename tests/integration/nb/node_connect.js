// node node_connect.js NAME PORT
// net.connect({host, port, autoSelectFamily: true}): Node's own Happy
// Eyeballs (dns.lookup with all: true in libuv's thread pool, then one
// non-blocking connect at a time, each given autoSelectFamilyAttemptTimeout,
// 250 ms by default, before Node closes it and tries the next address; the
// last address gets no such limit), waited for with epoll.
// Prints "ms=N" (connect event), then what the server sends; on error
// "error CODE" and exit 1.
"use strict";
const net = require("net");
const [host, port] = process.argv.slice(2);
const t = process.hrtime.bigint();
const ms = () => Number((process.hrtime.bigint() - t) / 1000000n);
const s = net.connect({ host, port: Number(port), autoSelectFamily: true });
s.on("connect", () => console.log("ms=" + ms()));
s.on("data", (d) => process.stdout.write(d.toString()));
s.on("error", (e) => {
    console.log("ms=" + ms());
    console.log("error " + e.code);
    process.exitCode = 1;
});
