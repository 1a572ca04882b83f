# Set the replicas of one free/busy site folder (exops fix free-busy-replica): the folder must be
# under SCHEDULE+ FREE BUSY, the replicas are public folder database names.
$name = [string]$ExopsParameters['folder']
if (-not $name.StartsWith('EX:')) { throw ('exops changes only free/busy site folders (EX:...), not ' + $name) }
$identity = '\NON_IPM_SUBTREE\SCHEDULE+ FREE BUSY\' + $name
Set-PublicFolder -Identity $identity -Replicas ([string[]]$ExopsParameters['replicas'])
$after = Get-PublicFolder -Identity $identity
Write-ExopsAnswer 'set-replicas' @{ name = [string]$after.Name; replicas = @(foreach ($replica in $after.Replicas) { [string]$replica }) }
