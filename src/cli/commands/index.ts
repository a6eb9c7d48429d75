/**
 * Every command, in workflow order (`mvc --help` lists them so), loaded on demand: a command's module
 * (and the library behind it) is imported only when that command runs or help lists them all.
 */
import type { CommandModule } from 'yargs'
import type { GlobalArgs, Io } from '../output.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandFactory = (io: Io) => CommandModule<GlobalArgs, any>

export const COMMANDS: ReadonlyArray<{ readonly name: string, readonly load: () => Promise<CommandFactory> }> = [
  { name: 'init', load: async () => (await import('./init.js')).initCommand },
  { name: 'commit', load: async () => (await import('./commit.js')).commitCommand },
  { name: 'status', load: async () => (await import('./status.js')).statusCommand },
  { name: 'log', load: async () => (await import('./log.js')).logCommand },
  { name: 'show', load: async () => (await import('./show.js')).showCommand },
  { name: 'diff', load: async () => (await import('./diff.js')).diffCommand },
  { name: 'checkout', load: async () => (await import('./checkout.js')).checkoutCommand },
  { name: 'verify', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'fsck', load: async () => (await import('./fsck.js')).fsckCommand },
  { name: 'rm', load: async () => (await import('./rm.js')).rmCommand },
  { name: 'gc', load: async () => (await import('./gc.js')).gcCommand },
  { name: 'repair', load: async () => (await import('./repair.js')).repairCommand },
  { name: 'tag', load: async () => (await import('./tag.js')).tagCommand },
  { name: 'alias', load: async () => (await import('./alias.js')).aliasCommand },
  { name: 'branch', load: async () => (await import('./branch.js')).branchCommand },
  { name: 'switch', load: async () => (await import('./switch.js')).switchCommand },
  { name: 'remote', load: async () => (await import('./remote.js')).remoteCommand },
  { name: 'push', load: async () => (await import('./push.js')).pushCommand },
  { name: 'fetch', load: async () => (await import('./fetch.js')).fetchCommand },
  { name: 'pull', load: async () => (await import('./pull.js')).pullCommand },
  { name: 'clone', load: async () => (await import('./clone.js')).cloneCommand },
  { name: 'ls-remote', load: async () => (await import('./ls-remote.js')).lsRemoteCommand },
  { name: 'serve', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'ui', load: async () => (await import('./ui.js')).uiCommand },
  { name: 'config', load: async () => (await import('./config.js')).configCommand },
  { name: 'keygen', load: async () => (await import('./keygen.js')).keygenCommand },
  { name: 'sign', load: async () => (await import('./sign.js')).signCommand },
  { name: 'trust', load: async () => (await import('./trust.js')).trustCommand },
  { name: 'export', load: async () => (await import('./export.js')).exportCommand },
  { name: 'import', load: async () => (await import('./import.js')).importCommand }
]
