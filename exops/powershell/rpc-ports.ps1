# The static RPC ports (seed: MSExchangeRPC TCP/IP Port, REG_DWORD; MSExchangeAB RpcTcpPort,
# REG_SZ) and the TCP ports this server listens on, to prove the services use them.
function Get-ExopsRegistryValue($Path, $Name) {
    $key = Get-Item -Path $Path -ErrorAction SilentlyContinue
    if ($null -eq $key -or $null -eq $key.GetValue($Name)) {
        return @{ path = $Path; name = $Name; present = $false }
    }
    @{ path = $Path; name = $Name; present = $true; kind = [string]$key.GetValueKind($Name);
       value = [string]$key.GetValue($Name) }
}
$values = @(
    Get-ExopsRegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Services\MSExchangeRPC\ParametersSystem' 'TCP/IP Port'
    Get-ExopsRegistryValue 'HKLM:\SYSTEM\CurrentControlSet\Services\MSExchangeAB\Parameters' 'RpcTcpPort'
)
$properties = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
$listening = foreach ($listener in $properties.GetActiveTcpListeners()) { $listener.Port }
Write-ExopsAnswer 'rpc-ports' @{ values = $values; listening = @($listening) }
