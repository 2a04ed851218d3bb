import type { Row, Section } from "./report.ts";

/** Placeholder until this section is written. */
export const run: Section = (): Promise<Row[]> =>
  Promise.resolve([{ section: "send", metric: "not measured yet", value: "-" }]);
