import assert from "node:assert/strict";
import { serverOfUserId } from "../../src/matrix/ids.ts";

Deno.test("serverOfUserId", async (t) => {
  await t.step("takes everything after the first colon", () => {
    assert.equal(serverOfUserId("@a:example.org:8448"), "example.org:8448");
    assert.equal(serverOfUserId("@bob:localhost"), "localhost");
  });
  await t.step("is undefined for what is not a user id, without throwing", () => {
    for (const id of ["nobody", "bob:localhost", "@:localhost", "@bob:", "@bob", "#room:hs"]) {
      assert.equal(serverOfUserId(id), undefined, id);
    }
  });
});
