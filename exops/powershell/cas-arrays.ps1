# The client access arrays of the organisation: name, FQDN, site, members, and the addresses the
# FQDN resolves to from this server (where Outlook in this site would connect).
$arrays = foreach ($array in Get-ClientAccessArray) {
    $addresses = @()
    try { $addresses = @(foreach ($address in [Net.Dns]::GetHostAddresses([string]$array.Fqdn)) { [string]$address }) }
    catch { $addresses = @() }
    @{ name = [string]$array.Name; fqdn = [string]$array.Fqdn; site = [string]$array.Site;
       members = @(foreach ($member in $array.Members) { [string]$member }); addresses = $addresses }
}
Write-ExopsAnswer 'cas-arrays' @{ arrays = @($arrays) }
