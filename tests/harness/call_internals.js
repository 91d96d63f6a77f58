"use strict";
// Calls internal functions of the rendered Action, for parity tables against the Python engine:
//
//   node call_internals.js RENDERED_CODE.js < [{"function": "usagePeriod", "args": [...]}, ...]
//
// The code is evaluated as Auth0 would load it (exports, require), with the named functions
// returned from the same scope: nothing in the rendered code is changed to expose them.

const fs = require("node:fs");

const EXPOSED = [
  "usagePeriod",
  "grantsOneMore",
  "idempotencyKey",
  "classifyLogin",
  "readLoginRecord",
  "isCustomerNotFoundError",
];

const code = fs.readFileSync(process.argv[2], "utf8");
const internals = new Function("exports", "require", `${code}\nreturn { ${EXPOSED.join(", ")} };`)(
  {},
  require,
);
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const results = cases.map(({ function: name, args }) => {
  const value = internals[name](...args);
  return value === undefined ? null : value;
});
process.stdout.write(JSON.stringify(results));
