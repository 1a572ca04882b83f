# The client access arrays of the organisation: name, FQDN, site and members.
$arrays = foreach ($array in Get-ClientAccessArray) {
    @{ name = [string]$array.Name; fqdn = [string]$array.Fqdn; site = [string]$array.Site;
       members = @(foreach ($member in $array.Members) { [string]$member }) }
}
Write-ExopsAnswer 'cas-arrays' @{ arrays = @($arrays) }
