import assert from "node:assert/strict";
import {
  CONFIG_KEYS,
  configFilePath,
  defaultDirs,
  loadConfig,
  readConfigFile,
  resolveConfig,
  type Sources,
} from "../src/config.ts";
import { type CchatError, ConfigError, type ExitCode, UsageError } from "../src/errors.ts";
import { fakeDeps } from "./support/fakes.ts";

const FILE = "/etc/cchat/config.json";

/** How the message describes a setting, whatever wording config.ts chooses. */
const describe = (key: string) => CONFIG_KEYS.find((k) => k.key === key)!.describe;
const DEFAULTS = { dataDir: "/state/cchat", configDir: "/conf/cchat" };

function sources(
  overrides: {
    flags?: Sources["flags"];
    env?: Record<string, string>;
    file?: Record<string, unknown>;
  } = {},
): Sources {
  const env = overrides.env ?? {};
  return {
    flags: overrides.flags ?? {},
    env: (name) => env[name],
    file: overrides.file ?? {},
    filePath: FILE,
    defaults: DEFAULTS,
  };
}

/** The error of class `kind` a resolution throws, checked for its exit code and hint. */
function rejection<E extends CchatError>(
  s: Sources,
  kind: new (message: string) => E,
  exitCode: ExitCode,
): E {
  try {
    resolveConfig(s);
  } catch (err) {
    assert.ok(err instanceof kind, `expected a ${kind.name}, got ${err}`);
    assert.equal(err.exitCode, exitCode);
    assert.ok(err.hint && err.hint.length > 0, `a ${kind.name} carries a hint`);
    return err;
  }
  throw new Error("expected resolveConfig to throw");
}

/** A bad value from the environment or the file: exit 3. */
const configError = (s: Sources) => rejection(s, ConfigError, 3);
/** A bad value from a command-line flag: exit 2, like any other bad flag. */
const usageError = (s: Sources) => rejection(s, UsageError, 2);

Deno.test("resolveConfig defaults", () => {
  assert.deepEqual(resolveConfig(sources()), {
    aliasPrefix: "agents",
    federate: false,
    publish: false,
    heartbeatIntervalMs: 60_000,
    staleAfter: 3,
    maxRetryWaitMs: 120_000,
    syncTimeoutMs: 30_000,
    allowedServers: [],
    channelSenders: [],
    approvers: [],
    inboxRetentionMs: 604_800_000,
    dataDir: "/state/cchat",
    configDir: "/conf/cchat",
  });
});

Deno.test("inbox_retention: seconds, a minute at least, env over file", async (t) => {
  await t.step("from the file and from the environment", () => {
    const file = { inbox_retention: 3600 };
    assert.equal(resolveConfig(sources({ file })).inboxRetentionMs, 3_600_000);
    const env = { CCHAT_INBOX_RETENTION: "60" };
    assert.equal(resolveConfig(sources({ env, file })).inboxRetentionMs, 60_000);
  });

  await t.step("under a minute or over a year is refused, naming the source", () => {
    const err = configError(sources({ env: { CCHAT_INBOX_RETENTION: "59" } }));
    assert.match(err.message, /inbox retention from \$CCHAT_INBOX_RETENTION is "59"/);
    assert.match(err.message, /from 60 to 31622400/);
    const long = configError(sources({ env: { CCHAT_INBOX_RETENTION: "31622401" } }));
    assert.match(long.message, /"31622401"/);
    assert.equal(
      resolveConfig(sources({ env: { CCHAT_INBOX_RETENTION: "31622400" } }))
        .inboxRetentionMs,
      31_622_400_000,
    );
  });
});

Deno.test("resolveConfig precedence: flags > env > file > defaults", async (t) => {
  await t.step("homeserver from each layer", () => {
    const all = sources({
      flags: { homeserver: "https://flag.example" },
      env: { CCHAT_HOMESERVER: "https://env.example" },
      file: { homeserver: "https://file.example" },
    });
    assert.equal(resolveConfig(all).homeserver, "https://flag.example");
    const noFlag = sources({
      env: { CCHAT_HOMESERVER: "https://env.example" },
      file: { homeserver: "https://file.example" },
    });
    assert.equal(resolveConfig(noFlag).homeserver, "https://env.example");
    assert.equal(
      resolveConfig(sources({ file: { homeserver: "https://file.example" } })).homeserver,
      "https://file.example",
    );
    assert.equal(resolveConfig(sources()).homeserver, undefined);
  });

  await t.step("name from each layer", () => {
    assert.equal(
      resolveConfig(sources({
        flags: { name: "flagname" },
        env: { CCHAT_NAME: "envname" },
        file: { name: "filename" },
      })).name,
      "flagname",
    );
    assert.equal(
      resolveConfig(sources({ env: { CCHAT_NAME: "envname" }, file: { name: "filename" } })).name,
      "envname",
    );
    assert.equal(resolveConfig(sources({ file: { name: "filename" } })).name, "filename");
  });

  await t.step("heartbeat interval in seconds becomes milliseconds", () => {
    const all = sources({
      flags: { heartbeat_interval: "5" },
      env: { CCHAT_HEARTBEAT_INTERVAL: "10" },
      file: { heartbeat_interval: 20 },
    });
    assert.equal(resolveConfig(all).heartbeatIntervalMs, 5_000);
    assert.equal(
      resolveConfig(sources({
        env: { CCHAT_HEARTBEAT_INTERVAL: "1.5" },
        file: { heartbeat_interval: 20 },
      })).heartbeatIntervalMs,
      1_500,
    );
    assert.equal(
      resolveConfig(sources({ file: { heartbeat_interval: 20 } })).heartbeatIntervalMs,
      20_000,
    );
  });

  await t.step("federate, alias prefix, stale_after, max_retry_wait, sync_timeout", () => {
    const file = {
      federate: true,
      alias_prefix: "bots",
      stale_after: 2.5,
      max_retry_wait: 0,
      sync_timeout: 45,
      data_dir: "/data/from-file",
    };
    const fromFile = resolveConfig(sources({ file }));
    assert.equal(fromFile.federate, true);
    assert.equal(fromFile.aliasPrefix, "bots");
    assert.equal(fromFile.staleAfter, 2.5);
    assert.equal(fromFile.maxRetryWaitMs, 0);
    assert.equal(fromFile.syncTimeoutMs, 45_000);
    assert.equal(fromFile.dataDir, "/data/from-file");

    const envWins = resolveConfig(sources({
      env: {
        CCHAT_FEDERATE: "no",
        CCHAT_ALIAS_PREFIX: "envbots",
        CCHAT_STALE_AFTER: "4",
        CCHAT_MAX_RETRY_WAIT: "7",
        CCHAT_SYNC_TIMEOUT: "2",
        CCHAT_DATA_DIR: "/data/from-env",
      },
      file,
    }));
    assert.equal(envWins.federate, false);
    assert.equal(envWins.aliasPrefix, "envbots");
    assert.equal(envWins.staleAfter, 4);
    assert.equal(envWins.maxRetryWaitMs, 7_000);
    assert.equal(envWins.syncTimeoutMs, 2_000);
    assert.equal(envWins.dataDir, "/data/from-env");

    const flagWins = resolveConfig(sources({
      flags: { federate: "YES", data_dir: "/data/from-flag" },
      env: { CCHAT_FEDERATE: "no", CCHAT_DATA_DIR: "/data/from-env" },
    }));
    assert.equal(flagWins.federate, true);
    assert.equal(flagWins.dataDir, "/data/from-flag");
  });

  await t.step("publish: from the file, the environment over it, a bad value named", () => {
    assert.equal(resolveConfig(sources({ file: { publish: true } })).publish, true);
    const envWins = resolveConfig(
      sources({ env: { CCHAT_PUBLISH: "0" }, file: { publish: true } }),
    );
    assert.equal(envWins.publish, false);
    const err = configError(sources({ env: { CCHAT_PUBLISH: "maybe" } }));
    assert.equal(
      err.message,
      `The ${describe("publish")} from $CCHAT_PUBLISH is "maybe", not "true" or "false".`,
    );
  });

  await t.step("a file value of null counts as unset", () => {
    const config = resolveConfig(sources({ file: { homeserver: null, heartbeat_interval: null } }));
    assert.equal(config.homeserver, undefined);
    assert.equal(config.heartbeatIntervalMs, 60_000);
  });

  await t.step("boolean spellings", () => {
    for (const [raw, expected] of [["1", true], ["TRUE", true], ["yes", true], ["0", false]]) {
      const config = resolveConfig(sources({ env: { CCHAT_FEDERATE: raw as string } }));
      assert.equal(config.federate, expected, raw as string);
    }
  });

  await t.step("a homeserver URL loses its trailing slashes", () => {
    assert.equal(
      resolveConfig(sources({ flags: { homeserver: "http://127.0.0.1:8008//" } })).homeserver,
      "http://127.0.0.1:8008",
    );
  });
});

Deno.test("resolveConfig rejections name the source and the value", async (t) => {
  await t.step("a bad URL from a flag is a usage error", () => {
    const err = usageError(sources({ flags: { homeserver: "matrix.example.org" } }));
    assert.equal(
      err.message,
      'The homeserver base URL from the --homeserver flag is "matrix.example.org", ' +
        'not an http(s) URL such as "https://matrix.example.org".',
    );
    assert.equal(err.hint, "Fix the --homeserver flag.");
  });

  await t.step("a non-http URL from the environment", () => {
    const err = configError(sources({ env: { CCHAT_HOMESERVER: "ftp://hs.example" } }));
    assert.match(err.message, /from \$CCHAT_HOMESERVER is "ftp:\/\/hs\.example"/);
    assert.equal(err.hint, "Fix $CCHAT_HOMESERVER.");
  });

  await t.step("a bad URL from the file names the key and the path", () => {
    const err = configError(sources({ file: { homeserver: "not a url" } }));
    assert.match(err.message, /from "homeserver" in "\/etc\/cchat\/config\.json" is "not a url"/);
    assert.equal(err.hint, `Fix "homeserver" in "${FILE}".`);
  });

  await t.step("negative seconds", () => {
    const err = configError(sources({ env: { CCHAT_MAX_RETRY_WAIT: "-1" } }));
    assert.equal(
      err.message,
      `The ${describe("maxRetryWaitMs")} from $CCHAT_MAX_RETRY_WAIT is "-1", ` +
        "not a number of seconds from 0 to 86400.",
    );
  });

  await t.step("NaN seconds", () => {
    const err = configError(sources({ file: { sync_timeout: "soon" } }));
    assert.match(err.message, /from "sync_timeout" in "\/etc\/cchat\/config\.json" is "soon"/);
    assert.match(err.message, /not a number of seconds from 1 to 300\.$/);
  });

  await t.step("seconds below the minimum", () => {
    const err = usageError(sources({ flags: { heartbeat_interval: "0.5" } }));
    assert.match(err.message, /is "0\.5", not a number of seconds from 1 to 86400\./);
    assert.match(err.message, /flag/);
  });

  await t.step("a non-positive stale_after", () => {
    const err = configError(sources({ env: { CCHAT_STALE_AFTER: "0" } }));
    assert.match(err.message, /from \$CCHAT_STALE_AFTER is "0", not a number from 1 to 100\./);
  });

  await t.step("a bad boolean", () => {
    const err = configError(sources({ env: { CCHAT_FEDERATE: "maybe" } }));
    assert.equal(
      err.message,
      `The ${describe("federate")} from $CCHAT_FEDERATE is "maybe", not "true" or "false".`,
    );
    assert.equal(err.hint, "Fix $CCHAT_FEDERATE.");
  });

  await t.step("empty text", () => {
    const flag = usageError(sources({ flags: { data_dir: "   " } }));
    assert.equal(
      flag.message,
      `The ${describe("dataDir")} from the --data-dir flag is "   ", not a non-empty text.`,
    );
    assert.equal(flag.hint, "Fix the --data-dir flag.");
    const file = configError(sources({ file: { data_dir: "" } }));
    assert.match(file.message, /from "data_dir" in "\/etc\/cchat\/config\.json" is ""/);
    const env = configError(sources({ env: { CCHAT_DATA_DIR: "" } }));
    assert.match(env.message, /from \$CCHAT_DATA_DIR is "", not a non-empty text\./);
  });

  await t.step("the chosen source is the one blamed, not a lower one", () => {
    const err = usageError(sources({
      flags: { homeserver: "bad" },
      env: { CCHAT_HOMESERVER: "https://ok.example" },
    }));
    assert.match(err.message, /--homeserver flag is "bad"/);
    assert.doesNotMatch(err.message, /CCHAT_HOMESERVER/);
  });

  await t.step("an unknown file key is rejected, listing the known keys", () => {
    const err = configError(sources({ file: { homeserver: "https://hs.example", colour: "red" } }));
    assert.equal(err.message, `The config file "${FILE}" has the unknown key "colour".`);
    const known = CONFIG_KEYS.map((k) => k.file);
    assert.equal(err.hint, `Known keys: ${known.join(", ")}.`);
    for (const key of ["homeserver", "name", "alias_prefix", "allowed_servers", "data_dir"]) {
      assert.ok(err.hint?.includes(key), key);
    }
  });
});

Deno.test("resolveConfig edge values", async (t) => {
  await t.step("an empty number of seconds is refused, not read as 0", () => {
    const err = configError(sources({ env: { CCHAT_MAX_RETRY_WAIT: "" } }));
    assert.match(err.message, /\$CCHAT_MAX_RETRY_WAIT is "", not a number of seconds/);
    assert.match(
      configError(sources({ env: { CCHAT_STALE_AFTER: " " } })).message,
      /not a number from 1 to 100/,
    );
  });
  await t.step("a homeserver URL is trimmed of spaces and trailing slashes", () => {
    assert.equal(
      resolveConfig(sources({ env: { CCHAT_HOMESERVER: " https://x.org/ " } })).homeserver,
      "https://x.org",
    );
  });
  await t.step("a value of the wrong JSON type is refused by key, the source named", () => {
    for (
      const [file, expected] of [
        [
          { allowed_servers: 5 },
          /"allowed_servers" in the config file ".*" is 5, not a list of texts/,
        ],
        [{ allowed_servers: ["a", 3] }, /is \["a",3\], not a list of texts/],
        [{ data_dir: 7 }, /"data_dir" in the config file ".*" is 7, not a text in quotes\./],
        [{ homeserver: true }, /"homeserver" .* is true, not a text/],
        [{ federate: 1 }, /"federate" .* is 1, not true or false/],
        [{ heartbeat_interval: [60] }, /"heartbeat_interval" .* is \[60\], not a number/],
      ] as const
    ) {
      const err = configError(sources({ file }));
      assert.match(err.message, expected, JSON.stringify(file));
      assert.match(err.hint ?? "", new RegExp(`Fix "${Object.keys(file)[0]}" in`));
    }
  });

  await t.step("an object in the file is refused by key", () => {
    const err = configError(sources({ file: { alias_prefix: { a: 1 } } }));
    assert.match(err.message, /"alias_prefix" in the config file ".*" is \{"a":1\}, not a text/);
  });
  await t.step("an alias prefix must be alias-safe", () => {
    assert.match(
      configError(sources({ env: { CCHAT_ALIAS_PREFIX: "My Agents" } })).message,
      /"My Agents", not lower-case/,
    );
  });
  await t.step("the daemon's flag is named as the user typed it", () => {
    assert.match(
      usageError(sources({ flags: { heartbeat_interval: "0" } })).message,
      /the --interval flag is "0"/,
    );
  });
});

Deno.test("resolveConfig bounds every duration", async (t) => {
  // [file key, environment, setting, min, max, what one unit of the text is worth in the setting]
  const cases = [
    ["heartbeat_interval", "CCHAT_HEARTBEAT_INTERVAL", "heartbeatIntervalMs", 1, 86_400, 1000],
    ["sync_timeout", "CCHAT_SYNC_TIMEOUT", "syncTimeoutMs", 1, 300, 1000],
    ["max_retry_wait", "CCHAT_MAX_RETRY_WAIT", "maxRetryWaitMs", 0, 86_400, 1000],
    ["stale_after", "CCHAT_STALE_AFTER", "staleAfter", 1, 100, 1],
  ] as const;
  for (const [file, env, key, min, max, scale] of cases) {
    const unit = scale === 1 ? "a number" : "a number of seconds";
    await t.step(`${file}: ${min} and ${max} are taken`, () => {
      assert.equal(resolveConfig(sources({ env: { [env]: String(min) } }))[key], min * scale);
      assert.equal(resolveConfig(sources({ file: { [file]: max } }))[key], max * scale);
    });
    for (const outside of [min - 0.01, max + 0.01]) {
      await t.step(`${file}: ${outside} is refused, naming the source and the range`, () => {
        const err = configError(sources({ env: { [env]: String(outside) } }));
        assert.equal(
          err.message,
          `The ${describe(key)} from $${env} is "${outside}", not ${unit} from ${min} to ${max}.`,
        );
        assert.equal(err.hint, `Fix $${env}.`);
      });
    }
  }
  await t.step("a value that would overflow a timer is refused from every source", () => {
    const flag = usageError(sources({ flags: { heartbeat_interval: "2147484" } }));
    assert.match(flag.message, /--interval flag is "2147484", not a number of seconds from 1 to/);
    const env = configError(sources({ env: { CCHAT_SYNC_TIMEOUT: "2147484" } }));
    assert.match(env.message, /\$CCHAT_SYNC_TIMEOUT is "2147484", not a number of seconds from 1/);
    configError(sources({ file: { max_retry_wait: 2147484 } }));
    configError(sources({ file: { stale_after: 1e12 } }));
  });
});

Deno.test("a bad flag is a usage error, the same value elsewhere a config error", async (t) => {
  for (const value of ["0", "-5", "abc"]) {
    await t.step(`--interval ${value}`, () => {
      const flag = usageError(sources({ flags: { heartbeat_interval: value } }));
      const env = configError(sources({ env: { CCHAT_HEARTBEAT_INTERVAL: value } }));
      const file = configError(sources({ file: { heartbeat_interval: value } }));
      assert.equal(
        flag.message,
        `The ${describe("heartbeatIntervalMs")} from the --interval flag is "${value}", ` +
          "not a number of seconds from 1 to 86400.",
      );
      assert.equal(flag.hint, "Fix the --interval flag.");
      assert.equal(
        env.message,
        flag.message.replace("the --interval flag", "$CCHAT_HEARTBEAT_INTERVAL"),
      );
      assert.match(file.message, /from "heartbeat_interval" in /);
    });
  }
});

Deno.test("allowed_servers list parsing", async (t) => {
  await t.step('from the environment: "a, b"', () => {
    const config = resolveConfig(sources({ env: { CCHAT_ALLOWED_SERVERS: "a, b" } }));
    assert.deepEqual(config.allowedServers, ["a", "b"]);
  });
  await t.step("empty items are dropped", () => {
    const config = resolveConfig(sources({ env: { CCHAT_ALLOWED_SERVERS: " ,a.org,, b.org ," } }));
    assert.deepEqual(config.allowedServers, ["a.org", "b.org"]);
  });
  await t.step("from a JSON array in the file", () => {
    const config = resolveConfig(sources({ file: { allowed_servers: ["hs.one", "hs.two"] } }));
    assert.deepEqual(config.allowedServers, ["hs.one", "hs.two"]);
  });
  await t.step("the environment wins over the file", () => {
    const config = resolveConfig(sources({
      env: { CCHAT_ALLOWED_SERVERS: "env.org" },
      file: { allowed_servers: ["hs.one"] },
    }));
    assert.deepEqual(config.allowedServers, ["env.org"]);
  });
});

Deno.test("defaultDirs", async (t) => {
  await t.step("with XDG variables", () => {
    const env: Record<string, string> = {
      HOME: "/home/u",
      XDG_CONFIG_HOME: "/xdg/config",
      XDG_STATE_HOME: "/xdg/state",
    };
    assert.deepEqual(defaultDirs((n) => env[n]), {
      configDir: "/xdg/config/cchat",
      dataDir: "/xdg/state/cchat",
    });
  });
  await t.step("without XDG variables, under HOME", () => {
    const env: Record<string, string> = { HOME: "/home/u" };
    assert.deepEqual(defaultDirs((n) => env[n]), {
      configDir: "/home/u/.config/cchat",
      dataDir: "/home/u/.local/state/cchat",
    });
  });
  await t.step("empty XDG variables fall back to HOME", () => {
    const env: Record<string, string> = { HOME: "/h", XDG_CONFIG_HOME: "", XDG_STATE_HOME: "" };
    assert.deepEqual(defaultDirs((n) => env[n]), {
      configDir: "/h/.config/cchat",
      dataDir: "/h/.local/state/cchat",
    });
  });
  await t.step("without HOME, relative to the working directory", () => {
    assert.deepEqual(defaultDirs(() => undefined), {
      configDir: "./.config/cchat",
      dataDir: "./.local/state/cchat",
    });
  });
});

Deno.test("configFilePath", async (t) => {
  await t.step("honours CCHAT_CONFIG", () => {
    const env: Record<string, string> = {
      CCHAT_CONFIG: "/elsewhere/c.json",
      XDG_CONFIG_HOME: "/xdg",
    };
    assert.equal(configFilePath((n) => env[n]), "/elsewhere/c.json");
  });
  await t.step("defaults to config.json in the config dir", () => {
    const env: Record<string, string> = { XDG_CONFIG_HOME: "/xdg" };
    assert.equal(configFilePath((n) => env[n]), "/xdg/cchat/config.json");
    const home: Record<string, string> = { HOME: "/home/u" };
    assert.equal(configFilePath((n) => home[n]), "/home/u/.config/cchat/config.json");
  });
});

Deno.test("readConfigFile", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-config-" });
  try {
    await t.step("a missing file is empty", async () => {
      assert.deepEqual(await readConfigFile(`${dir}/absent.json`), {});
    });
    await t.step("a JSON object is returned as is", async () => {
      const path = `${dir}/good.json`;
      await Deno.writeTextFile(path, '{"name": "builder", "federate": true}');
      assert.deepEqual(await readConfigFile(path), { name: "builder", federate: true });
    });
    await t.step("invalid JSON is a ConfigError naming the path", async () => {
      const path = `${dir}/broken.json`;
      await Deno.writeTextFile(path, "{ name: builder");
      await assert.rejects(readConfigFile(path), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 3);
        assert.ok(err.message.startsWith(`The config file "${path}" is not a JSON object (`));
        assert.match(err.hint ?? "", /homeserver/);
        return true;
      });
    });
    for (const [label, body] of [["an array", "[1, 2]"], ["null", "null"], ["a string", '"x"']]) {
      await t.step(`${label} is a ConfigError naming the path`, async () => {
        const path = `${dir}/not-object.json`;
        await Deno.writeTextFile(path, body);
        await assert.rejects(readConfigFile(path), (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(
            err.message,
            `The config file "${path}" is not a JSON object (not an object).`,
          );
          return true;
        });
      });
    }
    await t.step("a directory in place of the file is a ConfigError naming the path", async () => {
      await assert.rejects(readConfigFile(dir), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.message.includes(`"${dir}"`));
        assert.equal(err.exitCode, 3);
        return true;
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig reads the file CCHAT_CONFIG points at", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cchat-load-" });
  try {
    const path = `${dir}/config.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        homeserver: "https://file.example/",
        name: "from-file",
        heartbeat_interval: 15,
        allowed_servers: ["a.org", "b.org"],
      }),
    );

    await t.step("file values, env over file, flags over env, XDG defaults", async () => {
      const { deps, env } = fakeDeps();
      env.CCHAT_CONFIG = path;
      env.XDG_CONFIG_HOME = `${dir}/xdg-config`;
      env.XDG_STATE_HOME = `${dir}/xdg-state`;
      env.CCHAT_NAME = "from-env";
      const config = await loadConfig(deps, { heartbeat_interval: "2" });
      assert.deepEqual(config, {
        homeserver: "https://file.example",
        name: "from-env",
        aliasPrefix: "agents",
        federate: false,
        publish: false,
        heartbeatIntervalMs: 2_000,
        staleAfter: 3,
        maxRetryWaitMs: 120_000,
        syncTimeoutMs: 30_000,
        allowedServers: ["a.org", "b.org"],
        channelSenders: [],
        approvers: [],
        inboxRetentionMs: 604_800_000,
        configDir: `${dir}/xdg-config/cchat`,
        dataDir: `${dir}/xdg-state/cchat`,
      });
    });

    await t.step("a bad file value is blamed on the file's key and path", async () => {
      const bad = `${dir}/bad.json`;
      await Deno.writeTextFile(bad, JSON.stringify({ stale_after: -2 }));
      const { deps, env } = fakeDeps();
      env.CCHAT_CONFIG = bad;
      await assert.rejects(loadConfig(deps, {}), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(
          err.message,
          `The ${describe("staleAfter")} from "stale_after" in "${bad}" is "-2", ` +
            "not a number from 1 to 100.",
        );
        return true;
      });
    });

    await t.step("a file CCHAT_CONFIG names must exist", async () => {
      const { deps, env } = fakeDeps();
      env.CCHAT_CONFIG = `${dir}/none.json`;
      await assert.rejects(loadConfig(deps, {}), (err: Error) => {
        assert.ok(err instanceof ConfigError, `${err}`);
        assert.equal(
          err.message,
          `The config file "${dir}/none.json" named by CCHAT_CONFIG does not exist.`,
        );
        assert.match(err.hint ?? "", /CCHAT_CONFIG/);
        return true;
      });
    });

    await t.step("no file at the default path gives the defaults", async () => {
      const { deps, env } = fakeDeps();
      env.HOME = "/home/nobody";
      const config = await loadConfig(deps, {});
      assert.equal(config.homeserver, undefined);
      assert.equal(config.configDir, "/home/nobody/.config/cchat");
      assert.equal(config.dataDir, "/home/nobody/.local/state/cchat");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
