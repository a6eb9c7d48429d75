/**
 * Colour on a terminal, off otherwise: off when stdout is not a TTY, when NO_COLOR is set
 * (https://no-color.org), with --no-color, or with `mvc config color.ui never`; `color.ui always`
 * forces it. ANSI SGR codes only.
 */
export interface Paint {
  readonly enabled: boolean
  green (s: string): string
  red (s: string): string
  yellow (s: string): string
  cyan (s: string): string
  bold (s: string): string
  dim (s: string): string
}

const sgr = (on: boolean, code: string) => (s: string): string => on ? `\x1b[${code}m${s}\x1b[0m` : s

export function paint (enabled: boolean): Paint {
  return { enabled, green: sgr(enabled, '32'), red: sgr(enabled, '31'), yellow: sgr(enabled, '33'), cyan: sgr(enabled, '36'), bold: sgr(enabled, '1'), dim: sgr(enabled, '2') }
}

export const NO_PAINT: Paint = paint(false)

/** Whether to colour: the flag, NO_COLOR, the setting, then whether stdout is a terminal. */
export function colorWanted (options: { flag?: boolean, setting?: string, tty: boolean, env?: NodeJS.ProcessEnv }): boolean {
  const env = options.env ?? process.env
  if (options.flag === false) return false
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (options.setting === 'never') return false
  if (options.setting === 'always' || options.flag === true) return true
  return options.tty
}

/** Colours a PASS/FAIL word. */
export function verdict (p: Paint, pass: boolean): string {
  return pass ? p.green('PASS') : p.red('FAIL')
}
