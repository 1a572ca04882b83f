# The Exchange cmdlets from the Exchange 2010 snap-in, in this WinRM shell.
$ExopsSession = 'snap-in'
Add-PSSnapin Microsoft.Exchange.Management.PowerShell.E2010
