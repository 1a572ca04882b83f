# exops prelude, sent before every exops script (Exchange 2010: Windows PowerShell 2.0).
# $ExopsArgument is set by exops to base64 of a UTF-8 JSON object: the parameters travel as data.
# PowerShell 2.0 has no ConvertFrom-Json / ConvertTo-Json: .NET 3.5 (an Exchange 2010
# prerequisite) decodes the argument, and ConvertTo-ExopsJson writes the answer in ASCII only
# (every other character as \uXXXX), so the console code page cannot garble it.
$ErrorActionPreference = 'Stop'
Add-Type -AssemblyName System.Web.Extensions
$ExopsText = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($ExopsArgument))
$ExopsParameters = (New-Object Web.Script.Serialization.JavaScriptSerializer).DeserializeObject($ExopsText)

function ConvertTo-ExopsJson($Value) {
    if ($null -eq $Value) { return 'null' }
    if ($Value -is [bool]) { return $Value.ToString().ToLower() }
    if ($Value -is [datetime]) { return '"' + $Value.ToUniversalTime().ToString('o') + '"' }
    if ($Value -is [int] -or $Value -is [long]) { return [string]$Value }
    if ($Value -is [Collections.IDictionary]) {
        $items = foreach ($key in $Value.Keys) { (ConvertTo-ExopsJson ([string]$key)) + ':' + (ConvertTo-ExopsJson $Value[$key]) }
        return '{' + ($items -join ',') + '}'
    }
    if ($Value -is [Collections.IEnumerable] -and $Value -isnot [string]) {
        $items = foreach ($item in $Value) { ConvertTo-ExopsJson $item }
        return '[' + ($items -join ',') + ']'
    }
    $text = New-Object Text.StringBuilder
    foreach ($char in ([string]$Value).ToCharArray()) {
        $code = [int]$char
        if ($code -lt 32 -or $code -gt 126 -or $code -eq 34 -or $code -eq 92) { [void]$text.AppendFormat('\u{0:x4}', $code) }
        else { [void]$text.Append($char) }
    }
    '"' + $text + '"'
}

function Write-ExopsAnswer($Script, $Answer) {
    $Answer['script'] = $Script
    $Answer['session'] = $ExopsSession
    $Answer['computer'] = [string]$env:COMPUTERNAME
    [Console]::Out.Write((ConvertTo-ExopsJson $Answer))
}
