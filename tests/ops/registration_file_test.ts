import assert from "node:assert/strict";
import {
  namesOf,
  newRegistration,
  readRegistration,
  registrationPath,
  withNames,
  writeRegistration,
} from "../../src/ops/registration_file.ts";
import type { ConfigError } from "../../src/errors.ts";

async function withDir(body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cchat-registration-" });
  try {
    await body(`${dir}/fleet`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the fleet's registration file", async (t) => {
  await t.step("a new one: fresh tokens, its names, unlimited, private", async () => {
    await withDir(async (dir) => {
      const registration = newRegistration("http://127.0.0.1:9339", ["b", "a"], "agents");
      assert.match(registration.as_token, /^[0-9a-f]{64}$/);
      assert.notEqual(registration.as_token, registration.hs_token);
      assert.equal(registration.rate_limited, false);
      assert.deepEqual(namesOf(registration), ["a", "b"]);
      await writeRegistration(dir, registration);
      assert.equal((await Deno.stat(registrationPath(dir))).mode! & 0o777, 0o600);
      assert.deepEqual(await readRegistration(dir), registration);
    });
  });
  await t.step("more names keep the tokens and an operator's own entries", () => {
    const first = newRegistration("http://127.0.0.1:9339", ["a"], "agents");
    assert.equal(withNames(first, ["a"]), first);
    const own = {
      ...first,
      namespaces: {
        ...first.namespaces,
        users: [{ exclusive: true, regex: "@bot-.*:example\\.org" }, ...first.namespaces.users],
      },
    };
    const more = withNames(own, ["c", "b"]);
    assert.equal(more.as_token, first.as_token);
    assert.deepEqual(namesOf(more), ["a", "b", "c"]);
    assert.equal(more.namespaces.users[0].regex, "@bot-.*:example\\.org");
  });
  await t.step("none is no registration; a damaged one is named with the way out", async () => {
    await withDir(async (dir) => {
      assert.equal(await readRegistration(dir), undefined);
      const cases: [string, RegExp][] = [
        ["id: cchat\n", /is not the JSON cchat writes/],
        ['{"id": "cchat"}', /has no "url"/],
        [
          JSON.stringify({ ...newRegistration("x", [], "a"), url: "not a url" }),
          /"url" that is no URL \("not a url"\)/,
        ],
        [
          JSON.stringify({ ...newRegistration("http://h", [], "a"), namespaces: { users: [] } }),
          /has no "namespaces.aliases" list/,
        ],
      ];
      await Deno.mkdir(dir, { recursive: true });
      for (const [text, message] of cases) {
        await Deno.writeTextFile(registrationPath(dir), text);
        await assert.rejects(readRegistration(dir), (err: ConfigError) => {
          assert.match(err.message, message);
          assert.match(err.hint!, /cchat provision --appservice/);
          return true;
        });
      }
      await Deno.chmod(registrationPath(dir), 0o000);
      if (Deno.uid() !== 0) await assert.rejects(readRegistration(dir), /Cannot read/);
    });
  });
  await t.step("a directory it cannot be written to is said so", async () => {
    await assert.rejects(
      writeRegistration("/proc/cchat-no", newRegistration("http://h", [], "a")),
      /Cannot write "\/proc\/cchat-no\/appservice.yaml"/,
    );
  });
});
