# Free/busy events (14031, 8207, 3047) from the Application log since a time, newest first, at
# most max_events of them.
$since = [datetime]::Parse([string]$ExopsParameters['since'], [System.Globalization.CultureInfo]::InvariantCulture,
                           [System.Globalization.DateTimeStyles]::RoundtripKind)
$filter = @{ LogName = 'Application'; Id = 14031, 8207, 3047; StartTime = $since }
$found = @()
try {
    $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents ([int]$ExopsParameters['max_events']))
} catch {
    if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
}
$events = foreach ($event in $found) {
    @{ id = $event.Id; provider = [string]$event.ProviderName; time = $event.TimeCreated;
       record_id = $event.RecordId; computer = [string]$event.MachineName; message = [string]$event.Message;
       data = @(foreach ($property in $event.Properties) { [string]$property.Value }) }
}
Write-ExopsAnswer 'events' @{ events = @($events); limit = [int]$ExopsParameters['max_events'] }
