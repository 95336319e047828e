// Fixed test secrets, so no test writes development secrets to disk and runs are repeatable.
process.env.JWT_SECRET ??= "test-jwt-secret-that-is-long-enough-0123456789";
process.env.DATA_KEY ??= Buffer.alloc(32, 7).toString("base64");
