# The state of the Exchange services exops reads and restarts, with when each process started.
$services = foreach ($name in 'MSExchangeIS', 'MSExchangeRPC', 'MSExchangeAB') {
    $service = Get-WmiObject -Class Win32_Service -Filter ("Name='" + $name + "'")
    $started = $null
    if ($service -and $service.ProcessId) { $started = (Get-Process -Id $service.ProcessId).StartTime }
    @{ name = $name; state = [string]$service.State; started = $started }
}
Write-ExopsAnswer 'services' @{ services = @($services) }
