/**
 * Long output on a terminal goes through a pager, as git does: MVC_PAGER, else `mvc config core.pager`,
 * else PAGER, else `less -FRX` (which exits at once when the text fits the screen). Off with
 * --no-pager, when stdout is not a terminal, or with an empty pager setting.
 */
import { spawn } from 'node:child_process'

export function pagerCommand (setting: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.MVC_PAGER ?? setting ?? env.PAGER ?? 'less -FRX'
  return chosen.trim() === '' || chosen.trim() === 'cat' ? undefined : chosen
}

/** Writes `text` through the pager; falls back to stdout when the pager cannot be started. */
export async function page (text: string, command: string): Promise<void> {
  await new Promise<void>(resolve => {
    const child = spawn(command, { shell: true, stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, LESS: process.env.LESS ?? 'FRX' } })
    let failed = false
    child.on('error', () => { failed = true; process.stdout.write(text); resolve() })
    child.on('close', () => { if (!failed) resolve() })
    child.stdin.on('error', () => {}) // the user quit the pager before reading everything
    child.stdin.end(text)
  })
}
