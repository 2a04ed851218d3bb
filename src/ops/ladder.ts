/** How far a sent message got, in order: the server has it, its recipient read it, someone answered. */
export const LADDER = ["sent", "read", "answered"] as const;
export type DeliveryState = typeof LADDER[number];
