<#
.SYNOPSIS
Removes mcpwarden-agent from Windows: the scheduled task and the program; -Purge also deletes
%ProgramData%\mcpwarden (the configuration and the agent's key). Run as Administrator.

.EXAMPLE
powershell -ExecutionPolicy Bypass -File .\uninstall.ps1 -Purge
#>
param([switch]$Purge)
$ErrorActionPreference = "Stop"

$taskName = "mcpwarden-agent"
if (Get-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue) {
    Stop-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue
    Unregister-ScheduledTask -TaskName $taskName -Confirm:$false
}
Get-Process mcpwarden-agent -ErrorAction SilentlyContinue | Stop-Process -Force
Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $env:ProgramFiles "mcpwarden")
$configDir = Join-Path $env:ProgramData "mcpwarden"
if ($Purge) {
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $configDir
} else {
    Write-Output "Kept $configDir (configuration and key); -Purge deletes it."
}
