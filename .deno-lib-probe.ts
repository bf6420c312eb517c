import { createBackupSync } from "/work/main/src/index.ts";
import * as kit from "/work/main/src/testing.ts";
console.log(typeof createBackupSync, Object.keys(kit).sort().join(","));
