# This server's HTTPS virtual directories and the URLs clients are given for them.
function Get-ExopsDirectories($Kind, $Found) {
    foreach ($directory in $Found) {
        @{ kind = $Kind; name = [string]$directory.Name; internal_url = [string]$directory.InternalUrl;
           external_url = [string]$directory.ExternalUrl }
    }
}
$directories = @(
    Get-ExopsDirectories 'owa' (Get-OwaVirtualDirectory -Server $env:COMPUTERNAME)
    Get-ExopsDirectories 'ews' (Get-WebServicesVirtualDirectory -Server $env:COMPUTERNAME)
    Get-ExopsDirectories 'ecp' (Get-EcpVirtualDirectory -Server $env:COMPUTERNAME)
    Get-ExopsDirectories 'oab' (Get-OabVirtualDirectory -Server $env:COMPUTERNAME)
    Get-ExopsDirectories 'activesync' (Get-ActiveSyncVirtualDirectory -Server $env:COMPUTERNAME)
    Get-ExopsDirectories 'autodiscover' (Get-AutodiscoverVirtualDirectory -Server $env:COMPUTERNAME)
)
Write-ExopsAnswer 'virtual-directories' @{ directories = $directories }
