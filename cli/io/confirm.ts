import { createInterface } from "node:readline/promises";
import { UsageError } from "../errors";

/**
 * Deletes ask first, as upstream (`--no-confirm` skips). Without a terminal to ask on, refuse
 * rather than guess: a script must say --no-confirm.
 */
export async function confirm(question: string, noConfirm: boolean | undefined): Promise<boolean> {
  if (noConfirm) return true;
  if (!process.stdin.isTTY)
    throw new UsageError(`${question.replace(/\?$/, "")}: not confirmed (standard input is not a terminal); pass --no-confirm`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N]: `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
