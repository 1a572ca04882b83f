# The free/busy site folders (SCHEDULE+ FREE BUSY\EX:/o=.../ou=...) with their replicas, and the
# public folder databases of the organisation, so replicas can be matched to live servers.
$folders = foreach ($folder in Get-PublicFolder -Identity '\NON_IPM_SUBTREE\SCHEDULE+ FREE BUSY' -Recurse -ResultSize Unlimited) {
    @{ identity = [string]$folder.Identity; name = [string]$folder.Name;
       replicas = @(foreach ($replica in $folder.Replicas) { [string]$replica }) }
}
$databases = foreach ($database in Get-PublicFolderDatabase) {
    @{ name = [string]$database.Name; server = [string]$database.Server; dn = [string]$database.DistinguishedName }
}
Write-ExopsAnswer 'public-folders' @{ folders = @($folders); databases = @($databases) }
