/**
 * What a git user types, and what mvc does instead: so `mvc add` does not get "did you mean log?".
 */
export const GIT_VERB_HINTS: Readonly<Record<string, string>> = {
  add: 'mvc has no staging area: `mvc commit <path> -m <message>` snapshots a model folder (and starts tracking it)',
  stage: 'mvc has no staging area: `mvc commit <path> -m <message>` snapshots a model folder',
  mv: 'rename or move the files, then `mvc commit` the folder',
  reset: '`mvc checkout <version>` puts a version\'s files back; `mvc switch <branch>` moves HEAD',
  restore: '`mvc checkout <version>` rebuilds a version\'s files (`--to <dir>` elsewhere)',
  revert: '`mvc checkout <older version>` then `mvc commit -m "revert to vN"`',
  stash: 'commit the work as a version on a branch: `mvc switch -c <name>` then `mvc commit`',
  merge: 'models are not merged: `mvc pull` fast-forwards; pick a version with `mvc checkout`',
  rebase: 'models are not rebased: versions are kept as they were made',
  'cherry-pick': '`mvc checkout <version>` then `mvc commit` to make it a new version',
  'ls-files': '`mvc show [rev]` lists a version\'s files',
  blame: '`mvc log` and `mvc diff <a> <b>` show what changed when',
  describe: '`mvc tag` and `mvc log` name versions',
  grep: '`mvc log --where \'<metric><op><number>\'` finds versions by metrics or params',
  annotate: '`mvc log` and `mvc diff <a> <b>` show what changed when'
}
