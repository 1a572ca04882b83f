# Set (or remove) one static RPC port value (exops fix static-rpc-ports): only the two the seed
# names, each with the registry type its service reads.
$name = [string]$ExopsParameters['name']
$paths = @{ 'TCP/IP Port' = 'HKLM:\SYSTEM\CurrentControlSet\Services\MSExchangeRPC\ParametersSystem';
            'RpcTcpPort' = 'HKLM:\SYSTEM\CurrentControlSet\Services\MSExchangeAB\Parameters' }
$kinds = @{ 'TCP/IP Port' = 'DWord'; 'RpcTcpPort' = 'String' }
if (-not $paths.ContainsKey($name)) { throw ('exops sets only TCP/IP Port and RpcTcpPort, not ' + $name) }
$path = $paths[$name]
if ($ExopsParameters['remove']) {
    Remove-ItemProperty -Path $path -Name $name -ErrorAction SilentlyContinue
} else {
    $value = [string]$ExopsParameters['value']
    if ($kinds[$name] -eq 'DWord') { $value = [int]$value }
    if (-not (Test-Path -Path $path)) { New-Item -Path $path -Force | Out-Null }
    New-ItemProperty -Path $path -Name $name -PropertyType $kinds[$name] -Value $value -Force | Out-Null
}
Write-ExopsAnswer 'set-rpc-port' @{ name = $name }
