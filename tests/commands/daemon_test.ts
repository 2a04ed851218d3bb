/**
 * `cchat daemon --agents DIR`: several agents in one process over one KV
 * file, driven through runCli on a fake homeserver and virtual time.
 */
import assert from "node:assert/strict";
import { newRegistration, writeRegistration } from "../../src/ops/registration_file.ts";
import { writeCredentials } from "../../src/credentials.ts";
import { type CchatError, ExitCode } from "../../src/errors.ts";
import { commandHarness, HS, noRequests } from "../support/commands.ts";
import { cchatRoomAnswer, isCreate } from "../support/space.ts";
import { json, type RecordedRequest } from "../support/fakes.ts";

const ANN = "@ann:hs.test";
const BOB = "@bob:hs.test";
const USERS: Record<string, string> = { "Bearer token-ann": ANN, "Bearer token-bob": BOB };

const userOf = (r: RecordedRequest) => USERS[r.headers.get("authorization") ?? ""];
const pathOf = (r: RecordedRequest) => decodeURIComponent(r.url.pathname);

/** Writes the logins of `names` as `cchat provision --out` lays them out. */
async function provision(dir: string, ...names: string[]): Promise<void> {
  for (const name of names) {
    await writeCredentials(`${dir}/${name}/cchat`, {
      homeserver: HS,
      userId: `@${name}:hs.test`,
      accessToken: `token-${name}`,
    });
  }
}

Deno.test("a fleet's agent whose token is revoked stops alone; the others sync on", async () => {
  let shutdown = () => {};
  let annSyncs = 0;
  let bobRefusedAt: number | undefined;
  const h = await commandHarness(async (r) => {
    const user = userOf(r);
    if (user === BOB) {
      bobRefusedAt ??= h.clock.now();
      return json({ errcode: "M_UNKNOWN_TOKEN", error: "Token revoked" }, 401);
    }
    const p = pathOf(r);
    if (p.includes("/join/")) {
      const alias = p.slice(p.lastIndexOf("/") + 1);
      return json({ room_id: alias === "#agents-ann:hs.test" ? "!ann" : `!${alias}` });
    }
    if (p.endsWith("/filter")) return json({ filter_id: "f1" });
    if (p.endsWith(`/state/m.room.member/${user}`)) {
      return json({ content: { membership: "join" } });
    }
    if (isCreate(r)) return json({ room_id: "!beat" });
    const proof = cchatRoomAnswer(r, user);
    if (proof) return proof;
    if (p.endsWith("/sync")) {
      annSyncs++;
      if (!r.url.searchParams.has("since")) return json({ next_batch: "s1" });
      // Each long-poll takes its time, so the other agent's failure happens meanwhile.
      await h.clock.sleep(30_000);
      if (annSyncs === 2) {
        const event = {
          event_id: "$hi",
          type: "m.room.message",
          sender: "@human:hs.test",
          origin_server_ts: 1000,
          content: { msgtype: "m.text", body: "hello ann" },
        };
        return json({
          next_batch: "s2",
          rooms: { join: { "!ann": { timeline: { events: [event] } } } },
        });
      }
      if (annSyncs === 5) shutdown();
      return json({ next_batch: `s${annSyncs}` });
    }
    return json({ event_id: "$x" });
  }, {
    onShutdown: (handler) => {
      shutdown = handler;
      return () => {};
    },
  });
  await using _ = h;
  const fleet = `${h.configDir}/../../fleet`;
  await provision(fleet, "ann", "bob");

  assert.equal(await h.cli("daemon", "--agents", fleet), ExitCode.ok);

  // Bob was refused at his first request; Ann went on syncing, minutes later still.
  assert.notEqual(bobRefusedAt, undefined);
  const annAfter = h.requests.filter((r) =>
    userOf(r) === ANN && pathOf(r).endsWith("/sync") && r.at > bobRefusedAt!
  );
  assert.ok(annAfter.length >= 3, `Ann synced ${annAfter.length} times after Bob stopped`);
  assert.match(h.stderr.text, /\[bob\] Stopped: .*Token revoked/);
  assert.doesNotMatch(h.stderr.text, /\[ann\] Stopped/);
  // Each agent's record and inbox are its own, in the one KV file of the process.
  const bob = await h.records((records) => records.status(), BOB);
  assert.equal(bob?.state, "stopped");
  assert.equal(bob?.failure, "auth");
  assert.equal(bob?.name, "bob");
  const ann = await h.records((records) => records.status(), ANN);
  assert.equal(ann?.state, "stopped");
  assert.equal(ann?.failure, null);
  assert.deepEqual(await h.store((store) => store.unread(), BOB), []);
  // Ann's own inbox command, with her directory as its config home, reads what the fleet stored.
  h.env.XDG_CONFIG_HOME = `${fleet}/ann`;
  assert.equal(await h.cli("inbox", "--json"), ExitCode.ok);
  assert.deepEqual(JSON.parse(h.stdout.text).map((m: { body: string }) => m.body), ["hello ann"]);
  // Ann said goodbye after the signal.
  const offline = h.requests.filter((r) =>
    userOf(r) === ANN && (r.body as { status?: string } | undefined)?.status === "offline"
  );
  assert.ok(offline.length > 0, "no offline beat from Ann");
});

Deno.test("a fleet whose every agent failed exits with the first failure, naming it", async () => {
  await using h = await commandHarness(() =>
    json({ errcode: "M_UNKNOWN_TOKEN", error: "Token revoked" }, 401)
  );
  const fleet = `${h.configDir}/../../fleet`;
  await provision(fleet, "bob");
  await assert.rejects(h.cli("daemon", "--agents", fleet), (err: CchatError) => {
    assert.equal(err.exitCode, ExitCode.auth);
    assert.match(err.message, /1 of 1 agents stopped: bob\./);
    return true;
  });
});

Deno.test("daemon --agents refuses what is not a fleet", async (t) => {
  await t.step("with --name: a usage error, before any file is read", async () => {
    await using h = await commandHarness();
    await assert.rejects(
      h.cli("daemon", "--agents", "/nonexistent", "--name", "ann"),
      (err: CchatError) =>
        err.exitCode === ExitCode.usage && /--agents and --name/.test(err.message),
    );
  });

  await t.step("a missing directory: a config error naming it", async () => {
    await using h = await commandHarness();
    const missing = `${h.configDir}/no-such-fleet`;
    await assert.rejects(h.cli("daemon", "--agents", missing), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.ok(err.message.includes(`"${missing}" does not exist`), err.message);
      return true;
    });
  });

  await t.step("a directory without logins: a config error naming it", async () => {
    await using h = await commandHarness();
    const empty = `${h.configDir}/../../fleet`;
    await Deno.mkdir(`${empty}/ann/cchat`, { recursive: true });
    await assert.rejects(h.cli("daemon", "--agents", empty), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.ok(err.message.includes(`"${empty}" holds no agent`), err.message);
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("a directory not named as an agent: a config error naming it", async () => {
    await using h = await commandHarness();
    const fleet = `${h.configDir}/../../fleet`;
    await provision(fleet, "Ann");
    await assert.rejects(h.cli("daemon", "--agents", fleet), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.ok(err.message.includes(`"${fleet}/Ann"`), err.message);
      return true;
    });
  });

  await t.step("two directories of one account: a config error naming both", async () => {
    await using h = await commandHarness();
    const fleet = `${h.configDir}/../../fleet`;
    await provision(fleet, "ann");
    await writeCredentials(`${fleet}/ann2/cchat`, {
      homeserver: HS,
      userId: ANN,
      accessToken: "token-ann",
    });
    await assert.rejects(h.cli("daemon", "--agents", fleet), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.match(err.message, /"ann" and "ann2"/);
      return true;
    });
  });

  await t.step("--appservice without --agents: a usage error", async () => {
    await using h = await commandHarness();
    await assert.rejects(h.cli("daemon", "--appservice"), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.usage);
      assert.match(err.message, /--appservice needs --agents DIR/);
      return true;
    });
  });

  await t.step("--appservice: a fleet without a registration, or agents it omits", async () => {
    await using h = await commandHarness();
    const fleet = `${h.configDir}/../../fleet`;
    await provision(fleet, "ann", "bob");
    await assert.rejects(h.cli("daemon", "--agents", fleet, "--appservice"), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.match(err.message, /holds no application service/);
      assert.match(err.hint!, /cchat provision --appservice --out/);
      return true;
    });
    await writeRegistration(fleet, newRegistration("http://127.0.0.1:1", ["ann"], "agents"));
    await assert.rejects(h.cli("daemon", "--agents", fleet, "--appservice"), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.match(err.message, /may not act for "bob"\./);
      return true;
    });
    assert.equal(h.requests.length, 0);
  });

  await t.step("--appservice: an address it cannot listen on", async () => {
    await using h = await commandHarness(noRequests, {
      serve: () => {
        throw new Deno.errors.AddrInUse("Address already in use");
      },
    });
    const fleet = `${h.configDir}/../../fleet`;
    await provision(fleet, "ann");
    await writeRegistration(fleet, newRegistration("http://[::1]:9339", ["ann"], "agents"));
    await assert.rejects(h.cli("daemon", "--agents", fleet, "--appservice"), (err: CchatError) => {
      assert.equal(err.exitCode, ExitCode.config);
      assert.match(err.message, /cannot listen at "http:\/\/\[::1\]:9339": Address already in use/);
      return true;
    });
  });
});
