# Restart one Exchange service (exops fix ... --restart-store): only the services exops knows.
$name = [string]$ExopsParameters['service']
if (@('MSExchangeIS', 'MSExchangeRPC', 'MSExchangeAB') -notcontains $name) {
    throw ('exops restarts only MSExchangeIS, MSExchangeRPC and MSExchangeAB, not ' + $name)
}
Restart-Service -Name $name -Force
$service = Get-WmiObject -Class Win32_Service -Filter ("Name='" + $name + "'")
Write-ExopsAnswer 'restart-service' @{ name = $name; state = [string]$service.State }
