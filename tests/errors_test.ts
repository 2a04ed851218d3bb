import assert from "node:assert/strict";
import {
  CchatError,
  ConfigError,
  ExitCode,
  exitCodeOf,
  FAILURE_EXIT_CODES,
  failureOf,
  isTransient,
  MatrixError,
  NetworkError,
  RateLimitError,
  UsageError,
} from "../src/errors.ts";

const matrix = (status: number, errcode = "M_UNKNOWN") =>
  new MatrixError({ status, errcode, error: "no", request: "GET /x" });

Deno.test("one classification of failures, and one exit code for each", async (t) => {
  await t.step("each error is sorted once, and its exit code follows from its kind", () => {
    const cases: [unknown, string][] = [
      [new NetworkError("Cannot reach the homeserver."), "unreachable"],
      [matrix(502), "unreachable"],
      [
        new RateLimitError({ status: 429, errcode: "M_LIMIT_EXCEEDED", error: "", request: "" }),
        "rate_limited",
      ],
      [matrix(429, "M_LIMIT_EXCEEDED"), "rate_limited"],
      [matrix(401, "M_UNKNOWN_TOKEN"), "auth"],
      [matrix(403, "M_USER_DEACTIVATED"), "auth"],
      [matrix(403, "M_FORBIDDEN"), "error"],
      [new ConfigError("No agent name is configured."), "error"],
      [new Error("boom"), "error"],
    ];
    for (const [err, kind] of cases) {
      assert.equal(failureOf(err), kind, String(err));
    }
    for (const [err, kind] of cases.filter(([err]) => !(err instanceof ConfigError))) {
      assert.equal(exitCodeOf(err), FAILURE_EXIT_CODES[kind as keyof typeof FAILURE_EXIT_CODES]);
    }
  });

  await t.step("only the server being away or busy passes by itself", () => {
    assert.deepEqual(
      (["unreachable", "rate_limited", "auth", "error"] as const).filter(isTransient),
      ["unreachable", "rate_limited"],
    );
  });

  await t.step("every error class has its exit code", () => {
    const request = { status: 0, errcode: "", error: "", request: "GET /" };
    assert.deepEqual(
      [
        new CchatError("a"),
        new UsageError("a"),
        new ConfigError("a"),
        new NetworkError("a"),
        new MatrixError({ ...request, status: 500, errcode: "M_UNKNOWN" }),
        new MatrixError({ ...request, status: 403, errcode: "M_FORBIDDEN" }),
        new MatrixError({ ...request, status: 401, errcode: "M_UNKNOWN_TOKEN" }),
        new MatrixError({ ...request, status: 403, errcode: "M_USER_DEACTIVATED" }),
        new RateLimitError({ ...request, status: 429, errcode: "M_LIMIT_EXCEEDED" }),
      ].map(exitCodeOf),
      [1, 2, 3, 5, 5, 1, 4, 4, 6],
    );
  });

  await t.step("an error's own code, else a plain failure", () => {
    assert.equal(exitCodeOf(new ConfigError("x")), ExitCode.config);
    assert.equal(exitCodeOf(new CchatError("x", { exitCode: ExitCode.busy })), ExitCode.busy);
    assert.equal(exitCodeOf("a string"), ExitCode.failure);
  });

  await t.step("a Matrix error says whether its status is one of some", () => {
    assert.ok(matrix(404).is(403, 404));
    assert.ok(!matrix(500).is(403, 404));
  });
});
