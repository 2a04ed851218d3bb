import assert from "node:assert/strict";
import {
  type Credentials,
  credentialsPath,
  deleteCredentials,
  readCredentials,
  writeCredentials,
} from "../src/credentials.ts";
import { ConfigError } from "../src/errors.ts";

const LOGIN: Credentials = {
  homeserver: "https://hs.example",
  userId: "@bob:hs.example",
  accessToken: "syt_secret",
  deviceId: "DEV1",
};

async function withDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cchat-cred-" });
  try {
    await work(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

Deno.test("credentials", async (t) => {
  await t.step("credentialsPath is credentials.json in the config dir", () => {
    assert.equal(credentialsPath("/c/cchat"), "/c/cchat/credentials.json");
  });

  await t.step("write then read round trips, creating the directory", async () => {
    await withDir(async (dir) => {
      const configDir = `${dir}/nested/cchat`;
      await writeCredentials(configDir, LOGIN);
      assert.deepEqual(await readCredentials(configDir), LOGIN);
      const onDisk = JSON.parse(await Deno.readTextFile(credentialsPath(configDir)));
      assert.deepEqual(onDisk, {
        homeserver: "https://hs.example",
        user_id: "@bob:hs.example",
        access_token: "syt_secret",
        device_id: "DEV1",
      });
    });
  });

  await t.step("without a device id, reads back without one", async () => {
    await withDir(async (dir) => {
      const { deviceId: _, ...noDevice } = LOGIN;
      await writeCredentials(dir, noDevice);
      const read = await readCredentials(dir);
      assert.deepEqual(read, { ...noDevice, deviceId: undefined });
    });
  });

  await t.step("the file is mode 0600 and no temporary file is left", async () => {
    await withDir(async (dir) => {
      await writeCredentials(dir, LOGIN);
      const stat = await Deno.stat(credentialsPath(dir));
      assert.equal(stat.mode! & 0o777, 0o600);
      assert.deepEqual(await names(dir), ["credentials.json"]);
    });
  });

  await t.step("a second write replaces the first and stays 0600", async () => {
    await withDir(async (dir) => {
      await writeCredentials(dir, LOGIN);
      const next = { ...LOGIN, accessToken: "syt_new", userId: "@carol:hs.example" };
      await writeCredentials(dir, next);
      assert.deepEqual(await readCredentials(dir), next);
      assert.equal((await Deno.stat(credentialsPath(dir))).mode! & 0o777, 0o600);
      assert.deepEqual(await names(dir), ["credentials.json"]);
    });
  });

  await t.step("a failed write is a ConfigError and leaves no temporary file", async () => {
    await withDir(async (dir) => {
      // A directory where the file should go: the rename over it fails.
      await Deno.mkdir(`${credentialsPath(dir)}/occupied`, { recursive: true });
      await assert.rejects(writeCredentials(dir, LOGIN), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 3);
        assert.ok(err.message.startsWith(`Cannot store the login in "${credentialsPath(dir)}"`));
        assert.match(err.hint ?? "", /writable/);
        return true;
      });
      assert.deepEqual(await names(dir), ["credentials.json"]);
      assert.ok((await Deno.stat(credentialsPath(dir))).isDirectory);
    });
  });

  await t.step("a config dir that cannot be made fails and leaves nothing", async () => {
    await withDir(async (dir) => {
      // The "directory" is a file, so mkdir fails before anything is written.
      const blocker = `${dir}/blocker`;
      await Deno.writeTextFile(blocker, "");
      await assert.rejects(writeCredentials(`${blocker}/cchat`, LOGIN), Error);
      assert.deepEqual(await names(dir), ["blocker"]);
    });
  });

  await t.step("reading a missing login gives undefined", async () => {
    await withDir(async (dir) => {
      assert.equal(await readCredentials(dir), undefined);
      assert.equal(await readCredentials(`${dir}/no/such/dir`), undefined);
    });
  });

  const damaged: [string, string][] = [
    ["invalid JSON", "{ not json"],
    ["JSON null", "null"],
    ["a missing access_token", JSON.stringify({ homeserver: "h", user_id: "@a:h" })],
    ["a missing user_id", JSON.stringify({ homeserver: "h", access_token: "t" })],
    ["a missing homeserver", JSON.stringify({ user_id: "@a:h", access_token: "t" })],
    [
      "a non-string token",
      JSON.stringify({ homeserver: "h", user_id: "@a:h", access_token: 42 }),
    ],
  ];
  for (const [label, body] of damaged) {
    await t.step(`${label} is a damaged login (ConfigError with a hint)`, async () => {
      await withDir(async (dir) => {
        await Deno.writeTextFile(credentialsPath(dir), body);
        await assert.rejects(readCredentials(dir), (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.exitCode, 3);
          assert.equal(err.message, `The stored login "${credentialsPath(dir)}" is damaged.`);
          assert.equal(err.hint, 'Run "cchat logout", then "cchat login" again.');
          return true;
        });
      });
    });
  }

  await t.step("a non-string device id is dropped, the rest kept", async () => {
    await withDir(async (dir) => {
      await Deno.writeTextFile(
        credentialsPath(dir),
        JSON.stringify({ homeserver: "h", user_id: "@a:h", access_token: "t", device_id: 7 }),
      );
      assert.deepEqual(await readCredentials(dir), {
        homeserver: "h",
        userId: "@a:h",
        accessToken: "t",
        deviceId: undefined,
      });
    });
  });

  await t.step("an unreadable login (a directory) is a ConfigError naming the path", async () => {
    await withDir(async (dir) => {
      await Deno.mkdir(credentialsPath(dir));
      await assert.rejects(readCredentials(dir), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.message.startsWith(`Cannot read the stored login "${credentialsPath(dir)}"`));
        assert.match(err.hint ?? "", /log in again/);
        return true;
      });
    });
  });

  await t.step("delete returns true, then false", async () => {
    await withDir(async (dir) => {
      await writeCredentials(dir, LOGIN);
      assert.equal(await deleteCredentials(dir), true);
      assert.equal(await readCredentials(dir), undefined);
      assert.equal(await deleteCredentials(dir), false);
      assert.deepEqual(await names(dir), []);
    });
  });
});

Deno.test("an uncreatable config directory is a ConfigError with a hint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      writeCredentials(`${dir}/file/cchat`, { homeserver: "h", userId: "@a:h", accessToken: "t" }),
      (err: unknown) =>
        err instanceof ConfigError && /Cannot store the login/.test(err.message) && !!err.hint,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
